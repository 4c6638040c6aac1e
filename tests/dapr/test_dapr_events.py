"""The event path with every function behind daprd: a task created through the API (which sends
the command through Dapr service invocation) arrives as an event at write-audit (its history),
broadcast-update (the user's open page hears of it) and send-reminder (which schedules the
reminder's Dapr job), carried by the router over Kafka."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import socketio
from dapr_stack import Stack
from taskflow.adapters.dapr_jobs import job_name
from taskflow.adapters.reminder_schedule import ReminderKey
from taskflow_dev.local.launch import wait_until

pytestmark = pytest.mark.dapr

ARRIVAL_TIMEOUT_SECONDS = 60.0


class PageListener:
    """A browser tab of the user: a Socket.IO client that keeps every message it receives."""

    def __init__(self, url: str, token: str) -> None:
        self.received: list[Any] = []
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._keep)
        self.client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=20)

    def _keep(self, _event: str, data: Any = None) -> None:
        with self._lock:
            self.received.append(data)

    def heard_of(self, task_id: int) -> bool:
        with self._lock:
            return any(
                isinstance(data, dict) and data.get("task_id") == task_id for data in self.received
            )


def test_a_task_created_through_the_api_reaches_audit_broadcast_and_reminder(
    stack: Stack, signed_up: tuple[str, dict[str, str]]
) -> None:
    user_id, auth = signed_up
    page = PageListener(
        stack.functions["broadcast_update"].app_url, auth["Authorization"].removeprefix("Bearer ")
    )
    try:
        remind_at = (datetime.now(UTC) + timedelta(minutes=20)).replace(microsecond=0)
        created = requests.post(
            f"{stack.api_url}/api/{user_id}/tasks",
            json={"title": "book flights", "reminders": [{"at": remind_at.isoformat()}]},
            headers=auth,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        task = created.json()

        def audited() -> bool:
            history = requests.get(
                f"{stack.api_url}/api/{user_id}/tasks/{task['id']}/history",
                headers=auth,
                timeout=10,
            )
            return history.status_code == 200 and bool(history.json()["items"])

        wait_until(audited, what="the audit entry", timeout=ARRIVAL_TIMEOUT_SECONDS)
        wait_until(
            lambda: page.heard_of(task["id"]),
            what="the broadcast to the user's page",
            timeout=ARRIVAL_TIMEOUT_SECONDS,
        )
        (reminder,) = task["reminders"]
        key = ReminderKey(remind_at, task["id"], reminder["id"])
        job = f"{stack.functions['send_reminder'].sidecar_url}/v1.0/jobs/{job_name(key)}"
        wait_until(
            lambda: requests.get(job, timeout=5).status_code == 200,
            what="send-reminder to schedule the reminder",
            timeout=ARRIVAL_TIMEOUT_SECONDS,
        )
    finally:
        page.client.disconnect()
