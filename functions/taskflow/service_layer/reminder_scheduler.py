"""The port send-reminder uses to be woken when a reminder falls due.

Two adapters: in-process timers (entrypoints/reminder_timers.ReminderTimers, the default) and
Dapr jobs (adapters/dapr_jobs.DaprJobReminders, beside a Dapr sidecar). Either one only cuts
latency: each wake-up goes through reminders_service.fire, which re-checks the database, so a
lost wake-up costs at most one sweep and a stale one fires nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from taskflow.adapters.reminder_schedule import ReminderKey


class ReminderScheduler(Protocol):
    def schedule(self, keys: Iterable[ReminderKey]) -> None:
        """Make sure each of `keys` wakes send-reminder at its moment."""
        ...

    def replace_for_task(self, task_id: int, keys: Iterable[ReminderKey]) -> None:
        """The task's wake-ups become exactly `keys` (none: it was completed or deleted)."""
        ...
