"""Command JSON to domain values in the user's zone, and the 4xx reasons for bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from taskflow.domain.errors import ValidationError
from taskflow.domain.inputs import (
    parse_due,
    parse_recurrence,
    parse_reminders,
    parse_tags,
    parse_task_fields,
    parse_timezone,
)
from taskflow.domain.model import Priority, Reminder, Task
from taskflow.domain.recurrence import RecurrenceMode

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)


def test_iso_date_is_all_day() -> None:
    assert parse_due("2026-12-05", BERLIN) == (None, date(2026, 12, 5))


def test_datetime_with_offset_becomes_utc() -> None:
    assert parse_due("2026-12-05T17:00:00-05:00", BERLIN) == (
        datetime(2026, 12, 5, 22, tzinfo=UTC),
        None,
    )


def test_naive_datetime_is_read_in_the_users_zone() -> None:
    assert parse_due("2026-07-05T17:00", BERLIN) == (datetime(2026, 7, 5, 15, tzinfo=UTC), None)


def test_missing_due_is_none() -> None:
    assert parse_due(None, BERLIN) == (None, None)


@pytest.mark.parametrize("value", ["tomorrow", "2026-02-30", "05/12/2026", 1764950400])
def test_bad_due_names_the_field(value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_due(value, BERLIN)
    assert raised.value.field == "due"


def test_unknown_timezone() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_timezone("Mars/Base")
    assert raised.value.as_dict() == {
        "field": "timezone",
        "reason": "'Mars/Base' is not a known IANA timezone",
    }
    assert parse_timezone("America/New_York") == ZoneInfo("America/New_York")


def test_reminders_absolute_and_relative() -> None:
    absolute, relative = parse_reminders(
        [{"at": "2026-11-25T08:00"}, {"before_minutes": 30}], BERLIN, now=NOW
    )
    assert absolute.at == datetime(2026, 11, 25, 7, tzinfo=UTC)
    assert relative.before == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ([{"at": "2026-11-24T10:00:00Z"}], "is in the past"),
        ([{"before_minutes": -1}], "0 to"),
        ([{"before_minutes": "30"}], "whole number"),
        ([{"before_minutes": 5, "at": "2026-12-01T10:00:00Z"}], "either 'at' or"),
        ([{"in": 5}], "unknown key 'in'"),
        ({"before_minutes": 5}, "must be a list"),
    ],
)
def test_bad_reminders(items: object, reason: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_reminders(items, BERLIN, now=NOW)
    assert raised.value.field == "reminders"
    assert reason in raised.value.reason


def test_a_fired_reminder_sent_back_unchanged_is_kept() -> None:
    fired = Reminder(id="r1", at=datetime(2026, 11, 24, 10, tzinfo=UTC))
    [kept] = parse_reminders(
        [{"id": "r1", "at": "2026-11-24T10:00:00+00:00"}], BERLIN, now=NOW, existing=[fired]
    )
    assert kept == fired


def test_recurrence_forms() -> None:
    bare = parse_recurrence("FREQ=WEEKLY")
    full = parse_recurrence({"rule": "FREQ=DAILY;INTERVAL=3", "mode": "completion"})
    assert bare is not None and bare.mode is RecurrenceMode.FROM_DUE
    assert full is not None and full.mode is RecurrenceMode.FROM_COMPLETION
    assert parse_recurrence(None) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"rule": "FREQ=DAILY", "mode": "whenever"}, "mode 'whenever'"),
        ({"rule": "FREQ=DAILY", "every": 2}, "unknown key 'every'"),
        ("DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", "DTSTART"),
        (["FREQ=DAILY"], "must be an RRULE text"),
    ],
)
def test_bad_recurrence(value: object, reason: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_recurrence(value)
    assert raised.value.field == "recurrence"
    assert reason in raised.value.reason


def test_tags() -> None:
    assert parse_tags(["Work", "#work", "home"]) == ["work", "home"]
    with pytest.raises(ValidationError):
        parse_tags("work,home")


def test_task_fields_feed_new_and_update() -> None:
    fields = parse_task_fields(
        {
            "title": "Call mum",
            "priority": "p2",
            "tags": ["Family"],
            "due": "2026-11-29T18:00",
            "reminders": [{"before_minutes": 10}],
            "recurrence": {"rule": "FREQ=WEEKLY", "mode": "due"},
        },
        BERLIN,
        now=NOW,
    )
    task = Task.new("alice", now=NOW, **fields)  # type: ignore[arg-type]
    assert task.priority is Priority.MEDIUM
    assert task.due_at == datetime(2026, 11, 29, 17, tzinfo=UTC)
    task.id = 1
    task.update(parse_task_fields({"due": "2026-11-30"}, BERLIN, now=NOW), now=NOW)
    assert (task.due_at, task.due_date) == (None, date(2026, 11, 30))


def test_task_fields_reject_unknown_keys() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_task_fields({"user_id": "bob"}, BERLIN, now=NOW)
    assert raised.value.field == "user_id"
