"""The task commands' use case: create, update, complete, uncomplete, delete, skip, stop
repeating and snooze (spawn's handler lives in spawn.py), run by `handle` exactly once per
command id.

A handler turns the command's JSON into domain values (read in the user's zone), asks the
aggregate to change and returns it; the unit of work stores the change and its events at commit.
Domain errors propagate untouched, so nothing is committed.

The command's CloudEvent id, scoped by the command's user, is the idempotency key: the result is
stored in processed_events (consumer 'create-task') in the same transaction as the change and its
outbox rows, so a retried command gets the first answer back and has no second effect. The user is
part of the key so that a command id reused with another user_id can never return someone
else's stored answer (their task) - it runs as that user's own command instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from taskflow.domain import commands
from taskflow.domain.errors import TaskNotFound
from taskflow.domain.inputs import parse_task_fields
from taskflow.domain.model import Task
from taskflow.service_layer import spawn
from taskflow.service_layer.unit_of_work import AbstractUnitOfWork

Handler = Callable[[Any, AbstractUnitOfWork, datetime], Task | None]


def create_task(command: commands.CreateTask, uow: AbstractUnitOfWork, now: datetime) -> Task:
    if command.restore_id is not None:
        return _restore_task(command.user_id, command.restore_id, uow, now)
    fields = parse_task_fields(
        {name: getattr(command, name) for name in commands.TASK_FIELDS},
        uow.users.zone(command.user_id),
        now=now,
    )
    title = fields.pop("title")
    task = Task.new(command.user_id, title, now=now, **fields)  # type: ignore[arg-type]
    uow.tasks.add(task)
    task.mark_created()
    return task


def _restore_task(user_id: str, task_id: int, uow: AbstractUnitOfWork, now: datetime) -> Task:
    """Bring back a deleted task with its id and every field (Undo). Only the user who deleted
    it can, and only while it is deleted: the snapshot is the task.deleted event in the outbox,
    so an id the user never had is "not found", like any other unknown id."""
    existing = uow.tasks.get(user_id, task_id)
    if existing is not None:
        return existing  # restored already (a retried undo): the same answer, no second event
    snapshot = uow.tasks.deleted_snapshot(user_id, task_id)
    if snapshot is None:
        raise TaskNotFound(task_id)
    task = Task.from_dict({**snapshot, "updated_at": now.isoformat()})
    uow.tasks.add(task)
    task.mark_created()
    return task


def update_task(command: commands.UpdateTask, uow: AbstractUnitOfWork, now: datetime) -> Task:
    task = _existing_task(uow, command.user_id, command.task_id)
    changes = parse_task_fields(
        command.changes,
        uow.users.zone(command.user_id),
        now=now,
        existing_reminders=task.reminders,
    )
    task.update(changes, now=now)
    return task


def delete_task(command: commands.DeleteTask, uow: AbstractUnitOfWork, now: datetime) -> Task:
    task = _existing_task(uow, command.user_id, command.task_id)
    task.delete(now=now)
    uow.tasks.delete(task)
    return task


def uncomplete_task(
    command: commands.UncompleteTask, uow: AbstractUnitOfWork, now: datetime
) -> Task:
    """Reopening takes the completion back (Undo, or a mistaken tick): a repeating occurrence's
    successor, spawned by that completion and untouched since, goes away again, so the series
    has one open occurrence, as before (specs/task-domain.md, decision 8)."""
    task = _existing_task(uow, command.user_id, command.task_id)
    if not task.completed:
        return task
    task.uncomplete(now=now)
    if task.recurrence is not None:
        following = uow.tasks.get_occurrence(
            command.user_id, task.recurrence.series_id, task.recurrence.occurrence + 1
        )
        # Untouched: still open and never changed since it was spawned (created_at is the
        # completion's moment). An occurrence the user already edited or ticked is kept.
        if following is not None and _untouched(following):
            following.delete(now=now, reason=f"its completion of task #{task.id} was undone")
            uow.tasks.delete(following)
    return task


def _untouched(task: Task) -> bool:
    return not task.completed and task.updated_at == task.created_at


Change = Callable[[Task, Any, AbstractUnitOfWork, datetime], None]


def _on_existing_task(change: Change) -> Handler:
    """The handler of a command that changes one existing task of its user by one call of the
    aggregate (complete, skip, stop repeating, snooze)."""

    def handle(command: Any, uow: AbstractUnitOfWork, now: datetime) -> Task:
        task = _existing_task(uow, command.user_id, command.task_id)
        change(task, command, uow, now)
        return task

    return handle


HANDLERS: dict[type[commands.Command], Handler] = {
    commands.CreateTask: create_task,
    commands.UpdateTask: update_task,
    commands.DeleteTask: delete_task,
    commands.CompleteTask: _on_existing_task(lambda task, _, uow, now: task.complete(now=now)),
    commands.UncompleteTask: uncomplete_task,
    commands.SkipOccurrence: _on_existing_task(
        lambda task, _, uow, now: task.skip_occurrence(uow.users.zone(task.user_id), now=now)
    ),
    commands.StopRepeating: _on_existing_task(
        lambda task, _, uow, now: task.stop_repeating(now=now)
    ),
    commands.SnoozeReminder: _on_existing_task(
        lambda task, command, uow, now: task.snooze(command.minutes, now=now)
    ),
    commands.SpawnNextOccurrence: spawn.spawn_next_occurrence,
}


def _existing_task(uow: AbstractUnitOfWork, user_id: str, task_id: int) -> Task:
    task = uow.tasks.get(user_id, task_id)
    if task is None:
        raise TaskNotFound(task_id)
    return task


CONSUMER = "create-task"
REPLAY_KEY_MAX = 200  # processed_events.event_id's length


def replay_key(command_id: str, user_id: str) -> str:
    """The key a command's answer is stored under: its user and its id (a digest when the two
    would not fit the column)."""
    key = f"{user_id}:{command_id}"
    if len(key) <= REPLAY_KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(f"{user_id}\n{command_id}".encode()).hexdigest()


def handle(
    command: commands.Command,
    uow: AbstractUnitOfWork,
    *,
    command_id: str,
    source: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Apply `command` and answer {"status": "ok", "task": {...}} (for a delete, the task's
    last state). Domain errors (ValidationError, TaskNotFound, InvalidOperation) propagate and
    nothing is committed."""
    uow.source = source
    try:
        return _handle_once(command, uow, command_id, now or datetime.now(UTC))
    except IntegrityError:
        # A concurrent twin won a race on a unique key: the same command id (processed_events)
        # or the same occurrence of a series. Its transaction has committed, so a second run
        # finds its result, or the occurrence it created, and changes nothing.
        return _handle_once(command, uow, command_id, now or datetime.now(UTC))


def _handle_once(
    command: commands.Command, uow: AbstractUnitOfWork, command_id: str, now: datetime
) -> dict[str, Any]:
    key = replay_key(command_id, command.user_id)
    with uow:
        earlier = uow.processed.seen(CONSUMER, key)
        if earlier is not None:
            return earlier
        task = HANDLERS[type(command)](command, uow, now)
        result = {"status": "ok", "task": task.to_dict() if task is not None else None}
        uow.processed.record(CONSUMER, key, result)
        uow.commit()
    return result
