"""spawn's use case: the next occurrence of a completed repeating task.

spawn-recurrence turns a task.completed of a repeating task into the command
(`next_occurrence_command`), statelessly: the command's id is derived from the completed
event's id, so a redelivered completion produces the very same command. create-task runs it
(`spawn_next_occurrence`, a task command): its idempotency by command id and the unique
(series_id, occurrence) of tasks make the next occurrence appear exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cloudevents.http import CloudEvent

from taskflow import catalogue
from taskflow.domain import commands
from taskflow.domain.errors import SeriesCannotContinue, ValidationError
from taskflow.domain.model import Task

if TYPE_CHECKING:
    # Only create-task runs a unit of work here; spawn-recurrence loads no database layer.
    from taskflow.service_layer.unit_of_work import AbstractUnitOfWork

SOURCE = catalogue.source("spawn-recurrence")


def next_occurrence_command(completed: CloudEvent) -> CloudEvent | None:
    """The spawn command replying to a task.completed; None when the task does not repeat."""
    task_data = completed.data["task_data"]
    if not task_data.get("recurrence"):
        return None
    user_id = completed.data["user_id"]
    return catalogue.new_event(
        catalogue.SPAWN_OCCURRENCE,
        {
            "user_id": user_id,
            "task_id": completed.data["task_id"],
            "completed_at": task_data.get("completed_at") or completed.data["timestamp"],
            # The occurrence as it was completed: create-task builds the next one from it, not
            # from the row, which the user may delete or edit before this command arrives.
            "task_data": task_data,
        },
        user_id=user_id,
        source=SOURCE,
        event_id=f"spawn-{completed['id']}",
    )


def spawn_next_occurrence(
    command: commands.SpawnNextOccurrence, uow: AbstractUnitOfWork, now: datetime
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
            uow.users.zone(command.user_id), completed_at=completed_at
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
    uow: AbstractUnitOfWork,
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


def _reopened(current: Task | None, completed: Task) -> bool:
    """Whether the completed occurrence is open again, at the same place of its series."""
    if current is None or current.completed or current.recurrence is None:
        return False
    assert completed.recurrence is not None
    return (current.recurrence.series_id, current.recurrence.occurrence) == (
        completed.recurrence.series_id,
        completed.recurrence.occurrence,
    )


def _parse_completed_at(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError("completed_at", f"{value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValidationError("completed_at", "needs a timezone offset")
    return moment
