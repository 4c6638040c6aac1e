"""The task aggregate: validation, the events each change records, and the recurring series."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from taskflow.domain import events
from taskflow.domain.errors import InvalidOperation, ValidationError
from taskflow.domain.model import (
    SNOOZE_REMINDER_ID,
    Priority,
    Recurrence,
    RecurrenceMode,
    Reminder,
    Task,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # Tuesday 15:00 in Berlin
LATER = NOW + timedelta(hours=1)


def saved(task: Task, task_id: int = 7) -> Task:
    """A task as the repository hands it back: with an id and no pending events."""
    task.id = task_id
    return task


def daily_at_nine(**kwargs: object) -> Task:
    return saved(
        Task.new(
            "alice",
            "Stretch",
            due_at=datetime(2026, 11, 25, 9, tzinfo=BERLIN),
            recurrence=Recurrence("FREQ=DAILY"),
            now=NOW,
            **kwargs,  # type: ignore[arg-type]
        )
    )


# -- creation and validation ---------------------------------------------------------------


def test_new_task_is_normalised_and_has_no_event_until_created() -> None:
    task = Task.new(
        "alice",
        "  Buy milk  ",
        tags=["#Groceries", "groceries", " Home "],
        priority=Priority.HIGH,
        due_date=date(2026, 11, 25),
        now=NOW,
    )
    assert task.title == "Buy milk"
    assert task.tags == ["groceries", "home"]
    assert task.due_date == date(2026, 11, 25) and task.due_at is None
    assert task.created_at == task.updated_at == NOW
    assert task.events == []

    saved(task).mark_created()
    [created] = task.events
    assert isinstance(created, events.TaskCreated)
    assert created.task_id == 7 and created.spawned_from is None
    assert created.task_data["title"] == "Buy milk"
    assert created.task_data["due_date"] == "2026-11-25"


def test_due_at_is_held_in_utc() -> None:
    task = Task.new("alice", "Call", due_at=datetime(2026, 11, 25, 17, tzinfo=BERLIN), now=NOW)
    assert task.due_at == datetime(2026, 11, 25, 16, tzinfo=UTC)
    assert task.to_dict()["due_at"] == "2026-11-25T16:00:00+00:00"


def test_recurrence_is_anchored_on_the_first_due() -> None:
    task = daily_at_nine()
    assert task.recurrence is not None
    assert task.recurrence.anchor == datetime(2026, 11, 25, 8, tzinfo=UTC)
    assert task.to_dict()["recurrence"]["anchor"] == "2026-11-25T08:00:00+00:00"  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        ({"title": "   "}, "title", "must not be empty"),
        ({"title": "x" * 201}, "title", "at most 200 characters, got 201"),
        ({"description": "x" * 1001}, "description", "at most 1000"),
        ({"tags": ["two words"]}, "tags", "may contain only"),
        ({"tags": ["#"]}, "tags", "cannot be empty"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags", "at most 20 tags"),
        (
            {"due_at": datetime(2026, 12, 1, 9, tzinfo=UTC), "due_date": date(2026, 12, 1)},
            "due",
            "not both",
        ),
        ({"due_at": datetime(2026, 12, 1, 9)}, "due", "needs a timezone"),
        ({"reminders": [Reminder(before=timedelta(minutes=5))]}, "reminders", "needs a due"),
        ({"recurrence": Recurrence("FREQ=DAILY")}, "recurrence", "needs a due"),
        (
            {"due_date": date(2026, 12, 1), "recurrence": Recurrence("FREQ=HOURLY")},
            "recurrence",
            "hourly rule needs a due time",
        ),
        (
            {"due_date": date(2026, 12, 1), "reminders": [Reminder(at=NOW)] * 2},
            "reminders",
            "share an id",
        ),
        (
            {
                "due_date": date(2026, 12, 1),
                "reminders": [Reminder(before=timedelta(minutes=i)) for i in range(11)],
            },
            "reminders",
            "at most 10",
        ),
        ({"priority": "urgent"}, "priority", "not one of"),
    ],
)
def test_invalid_new_task_names_field_and_reason(kwargs: dict, field: str, reason: str) -> None:
    arguments = {"title": "Valid", **kwargs}
    with pytest.raises(ValidationError) as raised:
        Task.new("alice", now=NOW, **arguments)
    assert raised.value.field == field
    assert reason in raised.value.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [("p1", Priority.HIGH), ("P2", Priority.MEDIUM), ("p3", Priority.LOW), ("p4", Priority.NONE)],
)
def test_todoist_priorities(text: str, expected: Priority) -> None:
    assert Priority.parse(text) is expected


# -- update -----------------------------------------------------------------------------------


def test_update_records_only_real_changes() -> None:
    task = saved(Task.new("alice", "Buy milk", tags=["home"], now=NOW))
    task.update({"title": "Buy oat milk", "tags": ["HOME"], "priority": Priority.LOW}, now=LATER)
    [updated] = task.events
    assert isinstance(updated, events.TaskUpdated)
    assert updated.changes == {
        "title": {"before": "Buy milk", "after": "Buy oat milk"},
        "priority": {"before": "none", "after": "low"},
    }
    assert updated.task_data["title"] == "Buy oat milk"
    assert task.updated_at == LATER


def test_update_without_a_real_change_records_nothing() -> None:
    task = saved(Task.new("alice", "Buy milk", now=NOW))
    task.update({"title": " Buy milk "}, now=LATER)
    assert task.events == []
    assert task.updated_at == NOW


def test_setting_an_all_day_date_clears_the_due_time() -> None:
    task = saved(Task.new("alice", "Call", due_at=datetime(2026, 12, 1, 9, tzinfo=UTC), now=NOW))
    task.update({"due_date": date(2026, 12, 2)}, now=LATER)
    assert task.due_at is None and task.due_date == date(2026, 12, 2)
    assert task.events[-1].changes["due_at"] == {  # type: ignore[attr-defined]
        "before": "2026-12-01T09:00:00+00:00",
        "after": None,
    }


def test_invalid_update_changes_nothing() -> None:
    task = daily_at_nine()
    before = task.to_dict()
    with pytest.raises(ValidationError) as raised:
        task.update({"title": "New", "due_at": None}, now=LATER)
    assert raised.value.field == "recurrence"
    assert task.to_dict() == before and task.events == []


def test_update_rejects_unknown_fields() -> None:
    task = saved(Task.new("alice", "Call", now=NOW))
    with pytest.raises(ValidationError) as raised:
        task.update({"owner": "mallory"}, now=LATER)
    assert raised.value.field == "owner"


def test_moving_the_due_re_anchors_the_series_and_keeps_its_identity() -> None:
    task = daily_at_nine()
    assert task.recurrence is not None
    series_id = task.recurrence.series_id
    task.update(
        {
            "due_at": datetime(2026, 12, 3, 7, tzinfo=BERLIN),
            "recurrence": Recurrence("FREQ=WEEKLY"),
        },
        now=LATER,
    )
    assert task.recurrence.series_id == series_id
    assert task.recurrence.anchor == datetime(2026, 12, 3, 6, tzinfo=UTC)
    assert task.recurrence.rule == "FREQ=WEEKLY"


# -- lifecycle ----------------------------------------------------------------------------------


def test_complete_then_complete_again_records_one_event() -> None:
    task = saved(Task.new("alice", "Call", now=NOW))
    task.complete(now=LATER)
    task.complete(now=LATER + timedelta(minutes=5))
    assert [type(e) for e in task.events] == [events.TaskCompleted]
    assert task.completed and task.completed_at == LATER
    assert task.events[0].task_data["completed"] is True  # type: ignore[attr-defined]


def test_uncomplete_reports_the_completion_change() -> None:
    task = saved(Task.new("alice", "Call", now=NOW))
    task.complete(now=LATER)
    task.uncomplete(now=LATER)
    task.uncomplete(now=LATER)
    assert len(task.events) == 2
    assert task.events[1].changes == {  # type: ignore[attr-defined]
        "completed": {"before": True, "after": False},
        "completed_at": {"before": LATER.isoformat(), "after": None},
    }


def test_delete_records_the_last_state() -> None:
    task = saved(Task.new("alice", "Call", now=NOW))
    task.delete(now=LATER)
    [deleted] = task.events
    assert isinstance(deleted, events.TaskDeleted)
    assert deleted.task_data["title"] == "Call"


def test_snooze_moves_the_same_reminder() -> None:
    task = saved(Task.new("alice", "Call", now=NOW))
    task.snooze(10, now=NOW)
    task.snooze(30, now=LATER)
    [snoozed] = task.reminders
    assert snoozed.id == SNOOZE_REMINDER_ID
    assert snoozed.at == LATER + timedelta(minutes=30)
    assert len(task.events) == 2


@pytest.mark.parametrize("minutes", [0, -5, 100_000])
def test_snooze_rejects_silly_durations(minutes: int) -> None:
    task = saved(Task.new("alice", "Call", now=NOW))
    with pytest.raises(ValidationError):
        task.snooze(minutes, now=NOW)
    assert task.reminders == []


def test_stop_repeating_ends_the_series() -> None:
    task = daily_at_nine()
    task.stop_repeating(now=LATER)
    assert task.recurrence is None
    assert task.events[-1].changes["recurrence"]["after"] is None  # type: ignore[attr-defined]
    with pytest.raises(InvalidOperation, match="does not repeat"):
        task.skip_occurrence(BERLIN, now=LATER)


# -- the series --------------------------------------------------------------------------------


def test_skip_occurrence_moves_due_and_reminders_without_completing() -> None:
    absolute = Reminder(at=datetime(2026, 11, 24, 20, tzinfo=BERLIN))
    task = daily_at_nine(reminders=[absolute, Reminder(before=timedelta(minutes=15))])
    task.skip_occurrence(BERLIN, now=NOW)
    assert not task.completed
    assert task.due_at == datetime(2026, 11, 26, 9, tzinfo=BERLIN)
    assert task.reminders[0].at == datetime(2026, 11, 25, 20, tzinfo=BERLIN)
    assert task.reminders[1].before == timedelta(minutes=15)
    assert task.recurrence is not None and task.recurrence.occurrence == 2
    assert set(task.events[-1].changes) == {"due_at", "reminders", "recurrence"}  # type: ignore[attr-defined]


def test_skip_is_refused_for_a_one_off_task() -> None:
    task = saved(Task.new("alice", "Call", due_date=date(2026, 12, 1), now=NOW))
    with pytest.raises(InvalidOperation, match="does not repeat"):
        task.skip_occurrence(BERLIN, now=NOW)


def test_skip_is_refused_on_the_last_occurrence() -> None:
    task = saved(
        Task.new(
            "alice",
            "Course",
            due_date=date(2026, 12, 1),
            recurrence=Recurrence("FREQ=WEEKLY;COUNT=1"),
            now=NOW,
        )
    )
    with pytest.raises(InvalidOperation, match="last occurrence"):
        task.skip_occurrence(BERLIN, now=NOW)
    assert task.due_date == date(2026, 12, 1)


def test_next_occurrence_copies_the_task_and_recomputes_reminders() -> None:
    absolute = Reminder(at=datetime(2026, 11, 24, 20, tzinfo=BERLIN))
    task = daily_at_nine(
        reminders=[absolute, Reminder(before=timedelta(minutes=30))],
        priority=Priority.HIGH,
        tags=["health"],
        description="10 minutes",
    )
    task.complete(now=LATER)

    following = task.next_occurrence(BERLIN, completed_at=LATER)

    assert following is not None
    assert following.id is None and following.events == [] and not following.completed
    assert (following.title, following.description, following.priority, following.tags) == (
        "Stretch",
        "10 minutes",
        Priority.HIGH,
        ["health"],
    )
    assert following.due_at == datetime(2026, 11, 26, 9, tzinfo=BERLIN)
    assert following.reminders[0].at == datetime(2026, 11, 25, 20, tzinfo=BERLIN)
    assert following.reminders[1].before == timedelta(minutes=30)
    assert {r.id for r in following.reminders}.isdisjoint({r.id for r in task.reminders})
    assert following.recurrence is not None and task.recurrence is not None
    assert following.recurrence.series_id == task.recurrence.series_id
    assert following.recurrence.occurrence == 2


def test_next_occurrence_of_an_overdue_task_skips_missed_ones() -> None:
    task = daily_at_nine()
    completed = datetime(2026, 12, 10, 12, tzinfo=UTC)
    following = task.next_occurrence(BERLIN, completed_at=completed)
    assert following is not None
    assert following.due_at == datetime(2026, 12, 11, 9, tzinfo=BERLIN)


def test_next_occurrence_every_bang_counts_from_completion() -> None:
    task = saved(
        Task.new(
            "alice",
            "Haircut",
            due_date=date(2026, 11, 1),
            recurrence=Recurrence("FREQ=WEEKLY;INTERVAL=4", mode=RecurrenceMode.FROM_COMPLETION),
            now=NOW,
        )
    )
    following = task.next_occurrence(BERLIN, completed_at=NOW)
    assert following is not None and following.due_date == date(2026, 12, 22)


def test_next_occurrence_is_none_when_count_ended() -> None:
    task = saved(
        Task.new(
            "alice",
            "Course",
            due_date=date(2026, 12, 1),
            recurrence=Recurrence("FREQ=WEEKLY;COUNT=2"),
            now=NOW,
        )
    )
    second = task.next_occurrence(BERLIN, completed_at=NOW)
    assert second is not None and second.due_date == date(2026, 12, 8)
    assert second.next_occurrence(BERLIN, completed_at=NOW) is None


def test_round_trip_through_dict() -> None:
    task = daily_at_nine(reminders=[Reminder(before=timedelta(days=1))], tags=["a"])
    task.complete(now=LATER)
    assert Task.from_dict(task.to_dict()).to_dict() == task.to_dict()
