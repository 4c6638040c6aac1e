"""When reminders fire: absolute, relative to a due time, relative to an all-day date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from taskflow.domain.model import Reminder, Task
from taskflow.domain.reminders import reminder_times

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)


def times(task: Task, tz: ZoneInfo) -> list[datetime]:
    return [moment for _, moment in reminder_times(task, tz)]


def test_relative_and_absolute_reminders_earliest_first() -> None:
    task = Task.new(
        "alice",
        "Dentist",
        due_at=datetime(2026, 11, 26, 10, tzinfo=BERLIN),
        reminders=[
            Reminder(before=timedelta(minutes=30)),
            Reminder(at=datetime(2026, 11, 25, 20, tzinfo=BERLIN)),
        ],
        now=NOW,
    )
    assert times(task, BERLIN) == [
        datetime(2026, 11, 25, 19, tzinfo=UTC),
        datetime(2026, 11, 26, 8, 30, tzinfo=UTC),
    ]


def test_relative_reminder_on_all_day_due_counts_back_from_nine_local() -> None:
    task = Task.new(
        "alice",
        "Pay rent",
        due_date=date(2026, 12, 1),
        reminders=[Reminder(before=timedelta(0)), Reminder(before=timedelta(days=1))],
        now=NOW,
    )
    assert times(task, NEW_YORK) == [
        datetime(2026, 11, 30, 9, tzinfo=NEW_YORK),
        datetime(2026, 12, 1, 9, tzinfo=NEW_YORK),
    ]


def test_a_day_before_keeps_the_local_time_across_dst() -> None:
    # Berlin leaves summer time on 2026-10-25: "a day before 09:00" is 09:00 on the 24th
    task = Task.new(
        "alice",
        "Flight",
        due_at=datetime(2026, 10, 25, 9, tzinfo=BERLIN),
        reminders=[Reminder(before=timedelta(days=1))],
        now=datetime(2026, 10, 1, tzinfo=UTC),
    )
    assert times(task, BERLIN) == [datetime(2026, 10, 24, 9, tzinfo=BERLIN)]


def test_minutes_before_count_real_time_over_the_spring_gap() -> None:
    # 03:10 CEST on 2026-03-29 is 01:10 UTC; 30 minutes earlier is 00:40 UTC (01:40 CET)
    task = Task.new(
        "alice",
        "Night shift",
        due_at=datetime(2026, 3, 29, 3, 10, tzinfo=BERLIN),
        reminders=[Reminder(before=timedelta(minutes=30))],
        now=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert times(task, BERLIN) == [datetime(2026, 3, 29, 0, 40, tzinfo=UTC)]
