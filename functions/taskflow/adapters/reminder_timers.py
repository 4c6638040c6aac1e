"""In-process timers that fire reminders on time between two sweeps.

A latency optimisation only: a timer calls the same firing code as the sweep, which re-checks the
database, so a lost timer (restart, another replica) costs at most one sweep interval and a
stale one (task completed, reminder moved) fires nothing.

One thread serves every timer (a heap ordered by moment), so an hour with thousands of reminders
costs thousands of heap entries, not thousands of threads.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from taskflow.adapters.reminder_schedule import ReminderKey

log = logging.getLogger(__name__)


class ReminderTimers:
    def __init__(self, fire: Callable[[ReminderKey], None]) -> None:
        self._fire = fire
        # Heap of keys (ordered by remind_at first). A cancelled key stays in the heap until it
        # surfaces and is dropped there, because it is no longer in _scheduled.
        self._heap: list[ReminderKey] = []
        self._scheduled: set[ReminderKey] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def schedule(self, keys: Iterable[ReminderKey]) -> None:
        """Make sure each of `keys` has a timer (already scheduled ones are kept)."""
        with self._changed:
            for key in keys:
                self._add(key)
            self._changed.notify()
        self._start_thread_once()

    def replace_for_task(self, task_id: int, keys: Iterable[ReminderKey]) -> None:
        """The task's timers become exactly `keys` (none: it was completed or deleted)."""
        wanted = set(keys)
        with self._changed:
            self._scheduled = {k for k in self._scheduled if k.task_id != task_id or k in wanted}
            for key in wanted:
                self._add(key)
            self._changed.notify()
        self._start_thread_once()

    def _add(self, key: ReminderKey) -> None:
        if key not in self._scheduled:
            self._scheduled.add(key)
            heapq.heappush(self._heap, key)

    def _start_thread_once(self) -> None:
        # Started on first use, not in __init__: the module is imported before gunicorn forks,
        # and a thread does not survive a fork.
        with self._changed:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="reminder-timers", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            key = self._wait_for_next()
            try:
                self._fire(key)
            except Exception:
                log.exception("reminder timer failed; the next sweep fires it")

    def _wait_for_next(self) -> ReminderKey:
        with self._changed:
            while True:
                while self._heap and self._heap[0] not in self._scheduled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._changed.wait()
                    continue
                seconds_left = (self._heap[0].remind_at - datetime.now(UTC)).total_seconds()
                if seconds_left <= 0:
                    key = heapq.heappop(self._heap)
                    self._scheduled.discard(key)
                    return key
                self._changed.wait(timeout=seconds_left)
