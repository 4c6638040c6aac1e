"""Commands through task_commands.handle on both databases: effects, events, idempotency."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from taskflow import catalogue
from taskflow.adapters import orm
from taskflow.adapters.repository import User
from taskflow.domain import commands
from taskflow.domain.errors import InvalidOperation, TaskNotFound, ValidationError
from taskflow.service_layer import task_commands
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork

SOURCE = "/tests/service-layer"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def run(
    factory: Engine,
    command: commands.Command,
    *,
    command_id: str | None = None,
    now: datetime = NOW,
) -> dict[str, Any]:
    return task_commands.handle(
        command,
        SqlAlchemyUnitOfWork(factory),
        command_id=command_id or str(uuid.uuid4()),
        source=SOURCE,
        now=now,
    )


def rows(factory: Engine, table: sa.Table, *where: Any) -> list[Any]:
    with factory.connect() as session:
        return list(session.execute(sa.select(table).where(*where)).mappings())


def outbox_types(factory: Engine, topic: str = catalogue.TOPIC_TASK_EVENTS):
    return [row["type"] for row in rows(factory, orm.outbox, orm.outbox.c.topic == topic)]


def test_create_stores_the_task_and_one_event_per_topic(engine):
    result = run(
        engine,
        commands.CreateTask(
            user_id="ann",
            title="Buy milk",
            priority="p1",
            tags=["#Groceries"],
            due="2026-03-03T17:00:00+01:00",
            reminders=[{"before_minutes": 30}],
        ),
    )

    assert result["status"] == "ok"
    task = result["task"]
    assert task["title"] == "Buy milk"
    assert task["priority"] == "high"
    assert task["tags"] == ["groceries"]
    assert task["due_at"] == "2026-03-03T16:00:00+00:00"
    outbox = rows(engine, orm.outbox)
    assert sorted(row["topic"] for row in outbox) == ["task-events", "task-updates"]
    event = outbox[0]["payload"]
    assert event["type"] == catalogue.TASK_CREATED
    assert event["partitionkey"] == "ann"
    assert event["data"]["event_type"] == "created"
    assert event["data"]["task_data"] == task
    assert event["data"]["task_id"] == task["id"]
    [reminder] = rows(engine, orm.task_reminders)
    assert reminder["remind_at"] == datetime(2026, 3, 3, 15, 30, tzinfo=UTC)


def test_naive_due_is_read_in_the_users_zone(engine):
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.users.add(User(id="ann", email="ann@example.com", password_hash="x"))
        uow.users.set_timezone("ann", "America/New_York")
        uow.commit()

    task = run(engine, commands.CreateTask(user_id="ann", title="t", due="2026-07-01T09:00"))

    assert task["task"]["due_at"] == "2026-07-01T13:00:00+00:00"


def test_a_repeated_command_id_returns_the_first_answer_without_a_second_effect(engine):
    command = commands.CreateTask(user_id="ann", title="Once")

    first = run(engine, command, command_id="cmd-1")
    second = run(engine, command, command_id="cmd-1")

    assert second == first
    assert len(rows(engine, orm.tasks)) == 1
    assert len(rows(engine, orm.outbox)) == 2


def test_update_records_what_changed(engine):
    created = run(engine, commands.CreateTask(user_id="ann", title="Draft"))["task"]

    result = run(
        engine,
        commands.UpdateTask(
            user_id="ann", task_id=created["id"], changes={"title": "Final", "due": "2026-03-09"}
        ),
    )

    assert result["task"]["title"] == "Final"
    assert result["task"]["due_date"] == "2026-03-09"
    [row] = rows(engine, orm.tasks)
    assert row["title"] == "Final"
    updated = [
        row["payload"]["data"]
        for row in rows(engine, orm.outbox, orm.outbox.c.type == catalogue.TASK_UPDATED)
    ]
    assert updated[0]["changes"]["title"] == {"before": "Draft", "after": "Final"}


def test_complete_uncomplete_and_delete(engine):
    task_id = run(engine, commands.CreateTask(user_id="ann", title="t"))["task"]["id"]

    completed = run(engine, commands.CompleteTask(user_id="ann", task_id=task_id))
    assert completed["task"]["completed"] is True
    reopened = run(engine, commands.UncompleteTask(user_id="ann", task_id=task_id))
    assert reopened["task"]["completed"] is False
    deleted = run(engine, commands.DeleteTask(user_id="ann", task_id=task_id))

    assert deleted["task"]["id"] == task_id
    assert rows(engine, orm.tasks) == []
    assert outbox_types(engine) == [
        catalogue.TASK_CREATED,
        catalogue.TASK_COMPLETED,
        catalogue.TASK_UPDATED,
        catalogue.TASK_DELETED,
    ]


def test_another_users_task_is_not_found_and_unchanged(engine):
    task_id = run(engine, commands.CreateTask(user_id="ann", title="mine"))["task"]["id"]

    for command in (
        commands.CompleteTask(user_id="bob", task_id=task_id),
        commands.DeleteTask(user_id="bob", task_id=task_id),
        commands.UpdateTask(user_id="bob", task_id=task_id, changes={"title": "x"}),
    ):
        with pytest.raises(TaskNotFound):
            run(engine, command)

    [row] = rows(engine, orm.tasks)
    assert (row["title"], row["completed"]) == ("mine", False)
    assert outbox_types(engine) == [catalogue.TASK_CREATED]


def test_invalid_input_names_the_field_and_commits_nothing(engine):
    with pytest.raises(ValidationError) as error:
        run(engine, commands.CreateTask(user_id="ann", title="t", due="next blursday"))

    assert error.value.field == "due"
    assert rows(engine, orm.tasks) == []
    assert rows(engine, orm.outbox) == []
    assert rows(engine, orm.processed_events) == []


def test_skip_stop_and_snooze(engine):
    task_id = run(
        engine,
        commands.CreateTask(
            user_id="ann",
            title="Stand-up",
            due="2026-03-03T09:00:00+00:00",
            recurrence={"rule": "FREQ=DAILY"},
        ),
    )["task"]["id"]

    skipped = run(engine, commands.SkipOccurrence(user_id="ann", task_id=task_id))
    assert skipped["task"]["due_at"] == "2026-03-04T09:00:00+00:00"
    snoozed = run(engine, commands.SnoozeReminder(user_id="ann", task_id=task_id, minutes=15))
    assert [(r["at"]) for r in snoozed["task"]["reminders"]] == [
        (NOW + timedelta(minutes=15)).isoformat()
    ]
    stopped = run(engine, commands.StopRepeating(user_id="ann", task_id=task_id))
    assert stopped["task"]["recurrence"] is None
    with pytest.raises(InvalidOperation):
        run(engine, commands.SkipOccurrence(user_id="ann", task_id=task_id))
    [row] = rows(engine, orm.tasks)
    assert row["recurrence_rule"] is None
    assert row["series_id"] is None


def completed_weekly_task(factory: Engine) -> tuple[int, dict[str, Any]]:
    """A weekly task due 2026-03-02, completed: its id and its task.completed event's data."""
    task_id = run(
        factory,
        commands.CreateTask(
            user_id="ann",
            title="Water plants",
            due="2026-03-02",
            recurrence={"rule": "FREQ=WEEKLY"},
        ),
    )["task"]["id"]
    run(factory, commands.CompleteTask(user_id="ann", task_id=task_id))
    [completed] = [
        row["payload"]["data"]
        for row in rows(factory, orm.outbox, orm.outbox.c.topic == catalogue.TOPIC_TASK_EVENTS)
        if row["type"] == catalogue.TASK_COMPLETED
    ]
    return task_id, completed


def spawn_of(completed: dict[str, Any]) -> commands.SpawnNextOccurrence:
    """The command spawn-recurrence answers the completion with."""
    return commands.SpawnNextOccurrence(
        user_id=completed["user_id"],
        task_id=completed["task_id"],
        completed_at=completed["task_data"]["completed_at"],
        task_data=completed["task_data"],
    )


def spawned_from(factory: Engine) -> list[int | None]:
    return [
        row["payload"]["data"]["spawned_from"]
        for row in rows(factory, orm.outbox, orm.outbox.c.topic == catalogue.TOPIC_TASK_EVENTS)
        if row["type"] == catalogue.TASK_CREATED
    ]


def test_spawn_creates_the_next_occurrence_exactly_once(engine):
    task_id, completed = completed_weekly_task(engine)

    first = run(engine, spawn_of(completed), command_id="spawn-a")
    # A second completion event of the same occurrence brings a spawn with another id.
    second = run(engine, spawn_of(completed), command_id="spawn-b")

    assert first["task"]["due_date"] == "2026-03-09"
    assert second["task"] == first["task"]
    assert len(rows(engine, orm.tasks)) == 2
    assert spawned_from(engine) == [None, task_id]


def test_deleting_the_completed_occurrence_before_its_spawn_keeps_the_series(engine):
    task_id, completed = completed_weekly_task(engine)
    run(engine, commands.DeleteTask(user_id="ann", task_id=task_id))

    spawned = run(engine, spawn_of(completed), command_id=f"spawn-{task_id}")
    redelivered = run(engine, spawn_of(completed), command_id=f"spawn-{task_id}")
    another_completion = run(engine, spawn_of(completed), command_id="spawn-other")

    assert spawned["task"]["title"] == "Water plants"
    assert spawned["task"]["due_date"] == "2026-03-09"
    assert spawned["task"]["recurrence"]["occurrence"] == 2
    assert redelivered == spawned
    assert another_completion == spawned
    [row] = rows(engine, orm.tasks)
    assert (row["id"], row["occurrence"]) == (spawned["task"]["id"], 2)
    assert spawned_from(engine) == [None, task_id]


def test_editing_the_completed_occurrence_before_its_spawn_does_not_change_the_next(
    engine,
):
    task_id, completed = completed_weekly_task(engine)
    run(
        engine,
        commands.UpdateTask(
            user_id="ann", task_id=task_id, changes={"title": "Renamed", "due": "2026-03-20"}
        ),
    )
    run(engine, commands.StopRepeating(user_id="ann", task_id=task_id))

    spawned = run(engine, spawn_of(completed))

    assert spawned["task"]["title"] == "Water plants"
    assert spawned["task"]["due_date"] == "2026-03-09"
    assert spawned["task"]["recurrence"]["rule"] == "FREQ=WEEKLY"


def open_tasks(factory: Engine) -> list[tuple[str, int | None, bool]]:
    return sorted(
        (row["title"], row["occurrence"], row["completed"]) for row in rows(factory, orm.tasks)
    )


def completion_of(factory: Engine, task_id: int) -> dict[str, Any]:
    """The data of the task's newest task.completed event."""
    return [
        row["payload"]["data"]
        for row in rows(factory, orm.outbox, orm.outbox.c.topic == catalogue.TOPIC_TASK_EVENTS)
        if row["type"] == catalogue.TASK_COMPLETED and row["payload"]["data"]["task_id"] == task_id
    ][-1]


def test_reopening_after_the_spawn_takes_the_next_occurrence_back(engine):
    task_id, completed = completed_weekly_task(engine)
    successor = run(engine, spawn_of(completed))["task"]

    reopened = run(engine, commands.UncompleteTask(user_id="ann", task_id=task_id))

    assert reopened["task"]["completed"] is False
    assert open_tasks(engine) == [("Water plants", 1, False)]
    deleted = [
        (row["payload"]["data"]["task_id"], row["payload"]["data"]["reason"])
        for row in rows(engine, orm.outbox, orm.outbox.c.topic == catalogue.TOPIC_TASK_EVENTS)
        if row["type"] == catalogue.TASK_DELETED
    ]
    # Audit and live sync hear of it like any delete, with the reason the history shows.
    assert deleted == [(successor["id"], f"its completion of task #{task_id} was undone")]
    # Completing it again hands the series on once more: one next occurrence, not two.
    run(engine, commands.CompleteTask(user_id="ann", task_id=task_id))
    again = run(engine, spawn_of(completion_of(engine, task_id)))
    assert again["task"]["due_date"] == "2026-03-09"
    assert open_tasks(engine) == [("Water plants", 1, True), ("Water plants", 2, False)]


def test_reopening_before_the_spawn_arrives_ends_the_same(engine):
    task_id, completed = completed_weekly_task(engine)
    run(engine, commands.UncompleteTask(user_id="ann", task_id=task_id))

    late = run(engine, spawn_of(completed))

    assert late["task"] is None
    assert open_tasks(engine) == [("Water plants", 1, False)]
    run(engine, commands.CompleteTask(user_id="ann", task_id=task_id))
    run(engine, spawn_of(completion_of(engine, task_id)))
    assert open_tasks(engine) == [("Water plants", 1, True), ("Water plants", 2, False)]


def test_reopening_keeps_a_next_occurrence_the_user_already_changed(engine):
    task_id, completed = completed_weekly_task(engine)
    successor = run(engine, spawn_of(completed))["task"]
    run(
        engine,
        commands.UpdateTask(
            user_id="ann", task_id=successor["id"], changes={"description": "the big one too"}
        ),
        now=NOW + timedelta(hours=1),
    )

    run(engine, commands.UncompleteTask(user_id="ann", task_id=task_id))

    assert open_tasks(engine) == [("Water plants", 1, False), ("Water plants", 2, False)]


def test_a_spawn_whose_snapshot_is_another_users_task_is_refused(engine):
    _, completed = completed_weekly_task(engine)
    forged = replace(spawn_of(completed), user_id="bob")

    with pytest.raises(ValidationError) as error:
        run(engine, forged)

    assert error.value.field == "task_data.user_id"
    assert len(rows(engine, orm.tasks)) == 1
    assert [row["user_id"] for row in rows(engine, orm.tasks)] == ["ann"]
    assert spawned_from(engine) == [None]
