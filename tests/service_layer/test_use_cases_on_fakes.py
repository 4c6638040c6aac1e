"""The task commands' use case run on in-memory fakes (no database, no HTTP): what a user sees
of a command, its events and its idempotency, in milliseconds. The same use cases run on both
databases in test_command_handling.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import FakeUnitOfWork
from taskflow import catalogue
from taskflow.domain import commands
from taskflow.domain.errors import TaskNotFound, ValidationError
from taskflow.service_layer import spawn, task_commands

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def run(uow: FakeUnitOfWork, command: commands.Command, command_id: str = "c1") -> dict[str, Any]:
    return task_commands.handle(command, uow, command_id=command_id, source="/tests", now=NOW)


def test_a_create_commits_the_task_and_its_created_event() -> None:
    uow = FakeUnitOfWork()
    result = run(uow, commands.CreateTask(user_id="ann", title="Buy milk", tags=["#Food"]))
    assert result["status"] == "ok"
    assert (result["task"]["title"], result["task"]["tags"]) == ("Buy milk", ["food"])
    assert uow.event_types() == [catalogue.TASK_CREATED]
    assert uow.commits == 1


def test_a_naive_due_is_read_in_the_users_zone() -> None:
    uow = FakeUnitOfWork(zones={"ann": "Europe/Berlin"})
    result = run(uow, commands.CreateTask(user_id="ann", title="call", due="2026-07-01T09:00"))
    assert result["task"]["due_at"] == "2026-07-01T07:00:00+00:00"


def test_the_same_command_id_answers_the_first_result_and_acts_once() -> None:
    uow = FakeUnitOfWork()
    first = run(uow, commands.CreateTask(user_id="ann", title="once"), command_id="same")
    again = run(uow, commands.CreateTask(user_id="ann", title="once"), command_id="same")
    assert again == first
    assert uow.event_types() == [catalogue.TASK_CREATED]


def test_a_bad_field_is_refused_naming_it_and_commits_nothing() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(ValidationError) as refused:
        run(uow, commands.CreateTask(user_id="ann", title="t", priority="urgent"))
    assert refused.value.field == "priority"
    assert (uow.commits, uow.event_types()) == (0, [])


def test_another_users_task_is_not_found() -> None:
    uow = FakeUnitOfWork()
    task_id = run(uow, commands.CreateTask(user_id="ann", title="mine"))["task"]["id"]
    with pytest.raises(TaskNotFound):
        run(uow, commands.CompleteTask(user_id="bob", task_id=task_id), command_id="c2")


def test_an_update_changes_only_what_it_names() -> None:
    uow = FakeUnitOfWork()
    created = run(uow, commands.CreateTask(user_id="ann", title="draft", description="keep"))
    changes = {"title": "final"}
    task_id = created["task"]["id"]
    updated = run(uow, commands.UpdateTask(user_id="ann", task_id=task_id, changes=changes), "c2")
    assert (updated["task"]["title"], updated["task"]["description"]) == ("final", "keep")
    assert uow.event_types() == [catalogue.TASK_CREATED, catalogue.TASK_UPDATED]


def test_a_deleted_task_comes_back_as_it_was() -> None:
    uow = FakeUnitOfWork()
    created = run(uow, commands.CreateTask(user_id="ann", title="oops", tags=["x"]))["task"]
    run(uow, commands.DeleteTask(user_id="ann", task_id=created["id"]), "c2")
    restored = run(
        uow, commands.CreateTask(user_id="ann", title="", restore_id=created["id"]), "c3"
    )
    assert {k: v for k, v in restored["task"].items() if k != "updated_at"} == {
        k: v for k, v in created.items() if k != "updated_at"
    }


def test_completing_a_repeating_task_spawns_its_next_occurrence_once() -> None:
    uow = FakeUnitOfWork()
    created = run(
        uow,
        commands.CreateTask(
            user_id="ann", title="water plants", due="2026-03-02", recurrence={"rule": "FREQ=DAILY"}
        ),
    )["task"]
    completed = run(uow, commands.CompleteTask(user_id="ann", task_id=created["id"]), "c2")["task"]
    spawn_command = commands.SpawnNextOccurrence(
        user_id="ann",
        task_id=created["id"],
        completed_at=completed["completed_at"],
        task_data=completed,
    )
    following = run(uow, spawn_command, "spawn-1")["task"]
    assert following["due_date"] == "2026-03-03"
    assert run(uow, spawn_command, "spawn-2")["task"]["id"] == following["id"]


def test_a_completed_task_that_does_not_repeat_asks_for_no_spawn() -> None:
    uow = FakeUnitOfWork()
    created = run(uow, commands.CreateTask(user_id="ann", title="once"))["task"]
    run(uow, commands.CompleteTask(user_id="ann", task_id=created["id"]), "c2")
    completed_event = uow.outbox.events[-1]
    assert completed_event["type"] == catalogue.TASK_COMPLETED
    assert spawn.next_occurrence_command(completed_event) is None


def test_undoing_a_repeating_completion_takes_its_untouched_next_occurrence_back() -> None:
    uow = FakeUnitOfWork()
    created = run(
        uow,
        commands.CreateTask(
            user_id="ann", title="water plants", due="2026-03-02", recurrence={"rule": "FREQ=DAILY"}
        ),
    )["task"]
    completed = run(uow, commands.CompleteTask(user_id="ann", task_id=created["id"]), "c2")["task"]
    spawn_command = commands.SpawnNextOccurrence(
        user_id="ann",
        task_id=created["id"],
        completed_at=completed["completed_at"],
        task_data=completed,
    )
    following = run(uow, spawn_command, "spawn-1")["task"]
    run(uow, commands.UncompleteTask(user_id="ann", task_id=created["id"]), "c3")
    taken_back = uow.outbox.events[-1]
    assert (taken_back["type"], taken_back.data["task_id"]) == (
        catalogue.TASK_DELETED,
        following["id"],
    )
    assert "undone" in taken_back.data["reason"]
