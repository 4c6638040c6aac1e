"""One handler per command of domain/commands.py.

A handler turns the command's JSON into domain values (read in the user's zone), asks the
aggregate to change and returns it; the unit of work stores the change and its events at commit
(messagebus.handle). Domain errors propagate untouched, so nothing is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from taskflow.domain import commands
from taskflow.domain.errors import SeriesCannotContinue, TaskNotFound, ValidationError
from taskflow.domain.inputs import parse_task_fields
from taskflow.domain.model import Task
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork

Handler = Callable[[Any, SqlAlchemyUnitOfWork, datetime], Task | None]


def create_task(command: commands.CreateTask, uow: SqlAlchemyUnitOfWork, now: datetime) -> Task:
    if command.restore_id is not None:
        return _restore_task(command.user_id, command.restore_id, uow, now)
    fields = parse_task_fields(
        {
            "title": command.title,
            "description": command.description,
            "priority": command.priority,
            "tags": command.tags,
            "due": command.due,
            "reminders": command.reminders,
            "recurrence": command.recurrence,
        },
        _zone(uow, command.user_id),
        now=now,
    )
    title = fields.pop("title")
    task = Task.new(command.user_id, title, now=now, **fields)  # type: ignore[arg-type]
    uow.tasks.add(task)
    task.mark_created()
    return task


def _restore_task(user_id: str, task_id: int, uow: SqlAlchemyUnitOfWork, now: datetime) -> Task:
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


def update_task(command: commands.UpdateTask, uow: SqlAlchemyUnitOfWork, now: datetime) -> Task:
    task = _existing_task(uow, command.user_id, command.task_id)
    changes = parse_task_fields(
        command.changes,
        _zone(uow, command.user_id),
        now=now,
        existing_reminders=task.reminders,
    )
    task.update(changes, now=now)
    return task


def complete_task(command: commands.CompleteTask, uow: SqlAlchemyUnitOfWork, now: datetime) -> Task:
    task = _existing_task(uow, command.user_id, command.task_id)
    task.complete(now=now)
    return task


def uncomplete_task(
    command: commands.UncompleteTask, uow: SqlAlchemyUnitOfWork, now: datetime
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


def delete_task(command: commands.DeleteTask, uow: SqlAlchemyUnitOfWork, now: datetime) -> Task:
    task = _existing_task(uow, command.user_id, command.task_id)
    task.delete(now=now)
    uow.tasks.delete(task)
    return task


def skip_occurrence(
    command: commands.SkipOccurrence, uow: SqlAlchemyUnitOfWork, now: datetime
) -> Task:
    task = _existing_task(uow, command.user_id, command.task_id)
    task.skip_occurrence(_zone(uow, command.user_id), now=now)
    return task


def stop_repeating(
    command: commands.StopRepeating, uow: SqlAlchemyUnitOfWork, now: datetime
) -> Task:
    task = _existing_task(uow, command.user_id, command.task_id)
    task.stop_repeating(now=now)
    return task


def snooze_reminder(
    command: commands.SnoozeReminder, uow: SqlAlchemyUnitOfWork, now: datetime
) -> Task:
    task = _existing_task(uow, command.user_id, command.task_id)
    task.snooze(command.minutes, now=now)
    return task


def spawn_next_occurrence(
    command: commands.SpawnNextOccurrence, uow: SqlAlchemyUnitOfWork, now: datetime
) -> Task | None:
    """Create the occurrence after the completed one, once: if it exists already (another
    completion of the same occurrence got here first), answer with it and change nothing.
    None when the series has ended.

    The next occurrence is built from the command's snapshot of the completed occurrence, not
    from its row: deleting the completed task (history clean-up) or editing it after completing
    it does not cancel or change its successor (specs/task-domain.md, decision 8)."""
    completed = _completed_occurrence(command)
    completed_at = _parse_completed_at(command.completed_at)
    if _reopened(uow.tasks.get(command.user_id, command.task_id), completed):
        # The completion was taken back (reopened, Undo) before its spawn arrived: there is
        # nothing to hand on. Had the spawn come first, the reopening would have removed the
        # successor; either order ends the same (specs/task-domain.md, decision 8).
        return None
    try:
        following = completed.next_occurrence(
            _zone(uow, command.user_id), completed_at=completed_at
        )
    except SeriesCannotContinue as ended:
        _end_series(uow, command, completed, ended.reason, now)
        return None
    if following is None:
        return None
    assert following.recurrence is not None
    existing = uow.tasks.get_occurrence(
        command.user_id, following.recurrence.series_id, following.recurrence.occurrence
    )
    if existing is not None:
        return existing
    uow.tasks.add(following)
    following.mark_created(spawned_from=command.task_id)
    return following


def _end_series(
    uow: SqlAlchemyUnitOfWork,
    command: commands.SpawnNextOccurrence,
    completed: Task,
    reason: str,
    now: datetime,
) -> None:
    """The series cannot go on (issue 12, item 5): rather than a spawn failing until it is
    dead-lettered, the completed occurrence stops repeating, and its task.updated carries the
    reason, which the history (write-audit) keeps and live sync shows (specs/task-domain.md).
    A completed task deleted (or no longer of this series) meanwhile has no one to tell."""
    task = uow.tasks.get(command.user_id, command.task_id)
    if task is None or task.recurrence is None or completed.recurrence is None:
        return
    if task.recurrence.series_id != completed.recurrence.series_id:
        return
    task.end_series(reason, now=now)


HANDLERS: dict[type[commands.Command], Handler] = {
    commands.CreateTask: create_task,
    commands.UpdateTask: update_task,
    commands.CompleteTask: complete_task,
    commands.UncompleteTask: uncomplete_task,
    commands.DeleteTask: delete_task,
    commands.SkipOccurrence: skip_occurrence,
    commands.StopRepeating: stop_repeating,
    commands.SnoozeReminder: snooze_reminder,
    commands.SpawnNextOccurrence: spawn_next_occurrence,
}


def _existing_task(uow: SqlAlchemyUnitOfWork, user_id: str, task_id: int) -> Task:
    task = uow.tasks.get(user_id, task_id)
    if task is None:
        raise TaskNotFound(task_id)
    return task


def _completed_occurrence(command: commands.SpawnNextOccurrence) -> Task:
    """The completed occurrence of the command's snapshot, refused unless it is the command's
    own completed, repeating task: a spawn never creates a task for another user."""
    snapshot = command.task_data
    if snapshot.get("user_id") != command.user_id:
        raise ValidationError("task_data.user_id", "must be the command's user_id")
    if snapshot.get("id") != command.task_id:
        raise ValidationError("task_data.id", "must be the command's task_id")
    try:
        completed = Task.from_dict(snapshot)
    except ValidationError as error:
        raise ValidationError(f"task_data.{error.field}", error.reason) from None
    except (KeyError, TypeError, ValueError) as error:
        reason = f"is not a task as Task.to_dict() gives it: {error}"
        raise ValidationError("task_data", reason) from None
    if not completed.completed:
        raise ValidationError("task_data.completed", "only a completed occurrence has a next one")
    if completed.recurrence is None:
        raise ValidationError("task_data.recurrence", "the completed task does not repeat")
    return completed


def _untouched(task: Task) -> bool:
    return not task.completed and task.updated_at == task.created_at


def _reopened(current: Task | None, completed: Task) -> bool:
    """Whether the completed occurrence is open again, at the same place of its series."""
    if current is None or current.completed or current.recurrence is None:
        return False
    assert completed.recurrence is not None
    return (current.recurrence.series_id, current.recurrence.occurrence) == (
        completed.recurrence.series_id,
        completed.recurrence.occurrence,
    )


def _zone(uow: SqlAlchemyUnitOfWork, user_id: str) -> ZoneInfo:
    return ZoneInfo(uow.users.timezone(user_id))


def _parse_completed_at(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError("completed_at", f"{value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValidationError("completed_at", "needs a timezone offset")
    return moment
