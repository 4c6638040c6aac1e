"""When each reminder of a task fires.

An absolute reminder fires at its moment. A relative one counts back from the due; for an all-day
due it counts back from ALL_DAY_REMINDER_TIME on the user's local wall clock of that day (an
all-day task has no time, and a reminder at midnight would wake nobody usefully), so "a day
before" an all-day task on Dec 5 fires Dec 4 at 09:00 local.

Pure: whether a reminder may still fire (task completed, deleted, already delivered, in the past)
is the send-reminder function's decision.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from taskflow.domain.model import Reminder, Task
from taskflow.domain.recurrence import from_wall_clock, local_wall_clock

ALL_DAY_REMINDER_TIME = time(9, 0)


def reminder_times(task: Task, tz: ZoneInfo) -> list[tuple[Reminder, datetime]]:
    """Each reminder with its UTC firing moment, earliest first."""
    timed = [(r, moment) for r in task.reminders if (moment := remind_at(r, task, tz))]
    return sorted(timed, key=lambda pair: pair[1])


def remind_at(reminder: Reminder, task: Task, tz: ZoneInfo) -> datetime | None:
    """The UTC moment `reminder` fires, or None for a relative reminder of a task without due."""
    if reminder.at is not None:
        return reminder.at
    assert reminder.before is not None
    if task.due_at is not None:
        if reminder.before % timedelta(days=1):
            return task.due_at - reminder.before
        # Whole days count on the wall clock: "a day before 09:00" is 09:00 the day before,
        # even across DST (elapsed time would give 08:00 or 10:00).
        return from_wall_clock(local_wall_clock(task.due_at, tz) - reminder.before, tz)
    if task.due_date is not None:
        start_of_day = datetime.combine(task.due_date, ALL_DAY_REMINDER_TIME)
        return from_wall_clock(start_of_day - reminder.before, tz)
    return None
