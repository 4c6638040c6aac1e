"""In-process timers that fire reminders on time between two sweeps.

A latency optimisation only: a timer calls the same firing code as the sweep, which re-checks the
database, so a lost timer (restart, another replica) costs at most one sweep interval and a
stale one (task completed, reminder moved) fires nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from taskflow.adapters.reminder_schedule import ReminderKey

log = logging.getLogger(__name__)


class ReminderTimers:
    def __init__(self, fire: Callable[[ReminderKey], None]) -> None:
        self._fire = fire
        self._timers: dict[ReminderKey, threading.Timer] = {}
        self._lock = threading.Lock()

    def schedule(self, keys: Iterable[ReminderKey]) -> None:
        """Make sure each of `keys` has a timer (already scheduled ones are kept)."""
        now = datetime.now(UTC)
        with self._lock:
            for key in keys:
                if key not in self._timers:
                    self._start(key, now)

    def replace_for_task(self, task_id: int, keys: Iterable[ReminderKey]) -> None:
        """The task's timers become exactly `keys` (none: it was completed or deleted)."""
        wanted = set(keys)
        now = datetime.now(UTC)
        with self._lock:
            for key in [k for k in self._timers if k.task_id == task_id and k not in wanted]:
                self._timers.pop(key).cancel()
            for key in wanted - self._timers.keys():
                self._start(key, now)

    def _start(self, key: ReminderKey, now: datetime) -> None:
        delay = max(0.0, (key.remind_at - now).total_seconds())
        timer = threading.Timer(delay, self._run, args=(key,))
        timer.daemon = True
        self._timers[key] = timer
        timer.start()

    def _run(self, key: ReminderKey) -> None:
        with self._lock:
            self._timers.pop(key, None)
        try:
            self._fire(key)
        except Exception:
            log.exception("reminder timer failed; the next sweep fires it")
