"""Exact-time reminders as Dapr jobs: the Dapr scheduler calls send-reminder back at
`POST /job/<name>` with the job's data, the reminder's key.

One job per firing, named after (task, reminder, moment), so scheduling the same firing again
(every sweep, every task event, another replica) overwrites the job with an identical one
instead of adding a second; a rescheduled reminder is a new firing with a new name. Jobs the
scheduler holds outlive this process: when a task is completed or deleted this process deletes
the jobs it knows of for the task; one it scheduled before a restart fires into a database check
that finds nothing pending, which fires nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import urllib3

from taskflow.adapters import http_pool
from taskflow.adapters.reminder_schedule import ReminderKey

log = logging.getLogger(__name__)

JOB_CALLBACK_PREFIX = "/job/"
_TIMEOUT_SECONDS = 10.0


class BadJobData(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def job_name(key: ReminderKey) -> str:
    return f"reminder-{key.task_id}-{key.reminder_id}-{int(key.remind_at.timestamp() * 1000)}"


def job_data(key: ReminderKey) -> dict[str, Any]:
    return {
        "task_id": key.task_id,
        "reminder_id": key.reminder_id,
        "remind_at": key.remind_at.isoformat(),
    }


def key_from_job_data(data: Any) -> ReminderKey:
    """The key a job callback carries; BadJobData names the field that is wrong."""
    if not isinstance(data, Mapping):
        raise BadJobData("data", "must be a JSON object")
    task_id = data.get("task_id")
    if not isinstance(task_id, int) or isinstance(task_id, bool):
        raise BadJobData("task_id", "must be an integer")
    reminder_id = data.get("reminder_id")
    if not isinstance(reminder_id, str) or not reminder_id:
        raise BadJobData("reminder_id", "must be a non-empty string")
    try:
        remind_at = datetime.fromisoformat(str(data.get("remind_at")))
    except ValueError:
        raise BadJobData("remind_at", "must be an ISO 8601 date-time") from None
    if remind_at.tzinfo is None:
        raise BadJobData("remind_at", "must carry a timezone")
    return ReminderKey(remind_at, task_id, reminder_id)


class DaprJobReminders:
    """The ReminderScheduler port on the Dapr Jobs API of the sidecar at `sidecar_url`."""

    def __init__(self, sidecar_url: str) -> None:
        self._jobs_url = f"{sidecar_url.rstrip('/')}/v1.0/jobs"
        # urllib3's keep-alive pool (adapters/http_pool.py), as the other calls between this
        # product's processes: requests' import alone was 4 MiB of every cold start.
        self._http = http_pool.connection_pool()
        self._lock = threading.Lock()
        # The job names this process scheduled, per task: what to delete when the task's
        # reminders change, and what not to send again on every sweep.
        self._scheduled: defaultdict[int, set[str]] = defaultdict(set)

    def schedule(self, keys: Iterable[ReminderKey]) -> None:
        for key in keys:
            with self._lock:
                known = job_name(key) in self._scheduled[key.task_id]
            if not known:
                self._create(key)

    def replace_for_task(self, task_id: int, keys: Iterable[ReminderKey]) -> None:
        wanted = {job_name(key): key for key in keys}
        with self._lock:
            stale = self._scheduled[task_id] - wanted.keys()
        for name in stale:
            self._delete(task_id, name)
        self.schedule(wanted.values())

    def fired(self, key: ReminderKey) -> None:
        """The scheduler deletes a one-shot job once it called back: forget it."""
        with self._lock:
            self._scheduled[key.task_id].discard(job_name(key))

    def _create(self, key: ReminderKey) -> None:
        """Like a timer, a job only cuts latency: when the scheduler cannot take it, the sweep
        fires the reminder, and the next sweep tries to schedule it again (it is not recorded)."""
        name = job_name(key)
        body = {"dueTime": key.remind_at.isoformat(), "data": job_data(key), "overwrite": True}
        try:
            answer = self._http.request(
                "POST",
                f"{self._jobs_url}/{name}",
                body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                timeout=_TIMEOUT_SECONDS,
            )
        except urllib3.exceptions.HTTPError as error:
            log.warning("scheduling job %s failed: %s", name, type(error).__name__)
            return
        if answer.status != 204:
            log.warning("scheduling job %s failed: %s %s", name, answer.status, _text(answer))
            return
        with self._lock:
            self._scheduled[key.task_id].add(name)

    def _delete(self, task_id: int, name: str) -> None:
        try:
            answer = self._http.request(
                "DELETE", f"{self._jobs_url}/{name}", timeout=_TIMEOUT_SECONDS
            )
        except urllib3.exceptions.HTTPError as error:
            log.warning("deleting job %s failed: %s", name, type(error).__name__)
            return
        # A job that already called back is gone: deleting it again is not an error.
        if answer.status not in (204, 404):
            log.warning("deleting job %s failed: %s %s", name, answer.status, _text(answer))
            return
        with self._lock:
            self._scheduled[task_id].discard(name)


def _text(answer: urllib3.BaseHTTPResponse) -> str:
    return answer.data.decode(errors="replace")
