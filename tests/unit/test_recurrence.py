"""Next-occurrence maths: local wall clock across DST, month ends, missed occurrences, modes,
COUNT/UNTIL, and rule validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from taskflow.domain.errors import ValidationError
from taskflow.domain.recurrence import Recurrence, RecurrenceMode

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)


def series(rule: str, anchor: datetime | date, **kwargs: object) -> Recurrence:
    return Recurrence(rule, anchor=anchor, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tz", "before", "after"),
    [
        # Europe/Berlin: CET -> CEST on 2026-03-29, CEST -> CET on 2026-10-25
        (BERLIN, (2026, 3, 28, 9), (2026, 3, 29, 9)),
        (BERLIN, (2026, 10, 24, 9), (2026, 10, 25, 9)),
        # America/New_York: EST -> EDT on 2026-03-08, EDT -> EST on 2026-11-01
        (NEW_YORK, (2026, 3, 7, 9), (2026, 3, 8, 9)),
        (NEW_YORK, (2026, 10, 31, 9), (2026, 11, 1, 9)),
    ],
)
def test_daily_nine_stays_nine_local_across_dst(tz, before, after) -> None:
    due = local(tz, *before)
    recurrence = series("FREQ=DAILY", due)

    next_due = recurrence.next_due(due, tz, now=due)

    assert next_due == local(tz, *after)
    assert next_due.tzinfo == UTC
    assert next_due.astimezone(tz).hour == 9
    # the offset changed in between, so a fixed 24-hour step would have missed 09:00
    assert next_due.astimezone(tz).utcoffset() != due.utcoffset()


def test_daily_step_over_spring_forward_is_23_hours_of_real_time() -> None:
    due = local(BERLIN, 2026, 3, 28, 9)
    next_due = series("FREQ=DAILY", due).next_due(due, BERLIN, now=due)
    assert next_due is not None
    assert (next_due - due).total_seconds() == 23 * 3600


def test_weekly_across_new_york_fall_back_keeps_local_time() -> None:
    due = local(NEW_YORK, 2026, 10, 29, 18, 30)
    next_due = series("FREQ=WEEKLY", due).next_due(due, NEW_YORK, now=due)
    assert next_due == local(NEW_YORK, 2026, 11, 5, 18, 30)
    assert next_due.astimezone(NEW_YORK).utcoffset().total_seconds() == -5 * 3600


def test_time_in_spring_forward_gap_moves_forward() -> None:
    due = local(BERLIN, 2026, 3, 28, 2, 30)
    next_due = series("FREQ=DAILY", due).next_due(due, BERLIN, now=due)
    # 02:30 does not exist on 2026-03-29 in Berlin: it is read as 03:30 CEST
    assert next_due == local(BERLIN, 2026, 3, 29, 3, 30)


def test_monthly_on_the_31st_lands_on_month_ends_and_returns() -> None:
    anchor = local(BERLIN, 2026, 1, 31, 10)
    recurrence = series("FREQ=MONTHLY", anchor)
    dues = [anchor]
    for _ in range(4):
        next_due = recurrence.next_due(dues[-1], BERLIN, now=dues[-1])
        assert next_due is not None
        dues.append(next_due)
    assert [d.astimezone(BERLIN).date() for d in dues] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]
    assert {d.astimezone(BERLIN).hour for d in dues} == {10}


def test_monthly_on_the_30th_all_day_uses_feb_end_then_the_30th() -> None:
    anchor = date(2027, 1, 30)
    recurrence = series("FREQ=MONTHLY", anchor)
    now = local(BERLIN, 2027, 1, 1, 12)
    feb = recurrence.next_due(anchor, BERLIN, now=now)
    assert feb == date(2027, 2, 28)
    assert recurrence.next_due(feb, BERLIN, now=now) == date(2027, 3, 30)


def test_monthly_on_the_31st_in_a_leap_february() -> None:
    anchor = date(2028, 1, 31)
    next_due = series("FREQ=MONTHLY", anchor).next_due(
        anchor, BERLIN, now=local(BERLIN, 2028, 1, 1)
    )
    assert next_due == date(2028, 2, 29)


def test_yearly_on_feb_29_lands_on_feb_28_then_back() -> None:
    anchor = date(2028, 2, 29)
    recurrence = series("FREQ=YEARLY", anchor)
    now = local(BERLIN, 2028, 1, 1)
    first = recurrence.next_due(anchor, BERLIN, now=now)
    assert first == date(2029, 2, 28)
    due = first
    for _ in range(3):
        due = recurrence.next_due(due, BERLIN, now=now)
    assert due == date(2032, 2, 29)


def test_explicit_bymonthday_is_left_as_written() -> None:
    anchor = date(2026, 1, 15)
    recurrence = series("FREQ=MONTHLY;BYMONTHDAY=-1", anchor)
    assert recurrence.next_due(anchor, BERLIN, now=local(BERLIN, 2026, 1, 1)) == date(2026, 1, 31)


def test_overdue_timed_task_skips_missed_occurrences() -> None:
    due = local(BERLIN, 2026, 11, 2, 9)
    now = local(BERLIN, 2026, 11, 24, 15)  # three weeks late, 15:00 on a Tuesday
    next_due = series("FREQ=DAILY", due).next_due(due, BERLIN, now=now)
    assert next_due == local(BERLIN, 2026, 11, 25, 9)


def test_overdue_weekly_keeps_the_anchor_weekday() -> None:
    due = local(BERLIN, 2026, 11, 2, 9)  # a Monday
    now = local(BERLIN, 2026, 11, 24, 15)
    assert series("FREQ=WEEKLY", due).next_due(due, BERLIN, now=now) == local(
        BERLIN, 2026, 11, 30, 9
    )


def test_overdue_all_day_task_next_is_today_not_in_the_past() -> None:
    due = date(2026, 11, 20)
    now = local(BERLIN, 2026, 11, 24, 23, 30)  # already Nov 24 in Berlin, still 22:30 UTC
    assert series("FREQ=DAILY", due).next_due(due, BERLIN, now=now) == date(2026, 11, 24)


def test_all_day_today_in_users_zone_not_utc() -> None:
    due = date(2026, 11, 23)
    # 00:30 on Nov 24 in Berlin is still Nov 23 in UTC
    now = local(BERLIN, 2026, 11, 24, 0, 30)
    assert series("FREQ=DAILY", due).next_due(due, BERLIN, now=now) == date(2026, 11, 24)


def test_every_two_weeks_keeps_the_phase_of_the_anchor() -> None:
    anchor = local(BERLIN, 2026, 11, 2, 9)
    recurrence = series("FREQ=WEEKLY;INTERVAL=2", anchor)
    now = local(BERLIN, 2026, 11, 24, 15)
    # occurrences: Nov 2, 16, 30 — not Dec 1 or Nov 24 + 2 weeks
    assert recurrence.next_due(anchor, BERLIN, now=now) == local(BERLIN, 2026, 11, 30, 9)


def test_from_completion_counts_from_completion_keeping_local_time() -> None:
    due = local(BERLIN, 2026, 11, 10, 8, 15)
    recurrence = series("FREQ=DAILY;INTERVAL=3", due, mode=RecurrenceMode.FROM_COMPLETION)
    completed = local(BERLIN, 2026, 11, 24, 21)
    assert recurrence.next_due(due, BERLIN, now=completed, completed_at=completed) == local(
        BERLIN, 2026, 11, 27, 8, 15
    )


def test_from_completion_all_day() -> None:
    due = date(2026, 11, 1)
    recurrence = series("FREQ=WEEKLY", due, mode=RecurrenceMode.FROM_COMPLETION)
    completed = local(NEW_YORK, 2026, 11, 24, 23)  # Nov 25 in UTC, Nov 24 in New York
    assert recurrence.next_due(due, NEW_YORK, now=completed, completed_at=completed) == date(
        2026, 12, 1
    )


def test_count_ends_the_series() -> None:
    due = local(BERLIN, 2026, 11, 24, 9)
    assert series("FREQ=DAILY;COUNT=3", due, occurrence=2).next_due(due, BERLIN, now=due) == local(
        BERLIN, 2026, 11, 25, 9
    )
    assert series("FREQ=DAILY;COUNT=3", due, occurrence=3).next_due(due, BERLIN, now=due) is None


def test_until_date_is_inclusive_in_the_users_zone() -> None:
    due = local(BERLIN, 2026, 11, 30, 23, 30)  # 22:30 UTC
    recurrence = series("FREQ=DAILY;UNTIL=20261201", due)
    assert recurrence.next_due(due, BERLIN, now=due) == local(BERLIN, 2026, 12, 1, 23, 30)
    last = local(BERLIN, 2026, 12, 1, 23, 30)
    assert recurrence.next_due(last, BERLIN, now=last) is None


def test_until_utc_moment() -> None:
    due = date(2026, 11, 24)
    recurrence = series("FREQ=WEEKLY;UNTIL=20261207T120000Z", due)
    now = local(BERLIN, 2026, 11, 24, 8)
    assert recurrence.next_due(due, BERLIN, now=now) == date(2026, 12, 1)
    assert recurrence.next_due(date(2026, 12, 1), BERLIN, now=now) is None


def test_rule_is_normalised_and_serialised_with_anchor() -> None:
    recurrence = series("rrule:freq=weekly; byday=MO,FR", date(2026, 11, 30))
    assert recurrence.rule == "FREQ=WEEKLY;BYDAY=MO,FR"
    data = recurrence.to_dict()
    assert data["anchor"] == "2026-11-30"
    assert Recurrence.from_dict(data) == recurrence


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("", "the rule is empty"),
        ("DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY", "must not contain DTSTART"),
        ("INTERVAL=2", "FREQ is missing"),
        ("FREQ=DAILY;BYHOUR=9", "unknown or unsupported part 'BYHOUR'"),
        ("FREQ=DAILY;COLOUR=RED", "unknown or unsupported part 'COLOUR'"),
        ("FREQ=SECONDLY", "FREQ must be one of"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "COUNT and UNTIL"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number"),
        ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL 'TOMORROW'"),
        ("FREQ=WEEKLY;BYDAY=XX", "invalid rule"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ appears twice"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "the rule never happens"),
    ],
)
def test_bad_rules_are_rejected_with_a_reason(rule: str, reason: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Recurrence(rule)
    assert raised.value.field == "recurrence"
    assert reason in raised.value.reason
