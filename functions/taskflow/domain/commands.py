"""Commands accepted by the create-task function. Fields are the JSON the CloudEvent carries;
handlers turn them into domain values and reject bad ones with ValidationError."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from taskflow import event_types


@dataclass(frozen=True)
class Command:
    cloudevent_type: ClassVar[str]
    user_id: str


@dataclass(frozen=True)
class CreateTask(Command):
    cloudevent_type = event_types.CREATE_TASK
    title: str
    description: str = ""
    priority: str | None = None
    tags: list[str] = field(default_factory=list)
    # ISO 8601: "2026-12-01" (all-day) or "2026-12-01T17:00:00+01:00"; naive times are read in
    # the user's zone.
    due: str | None = None
    # each {"at": ISO datetime} or {"before_minutes": int}
    reminders: list[dict[str, Any]] = field(default_factory=list)
    # {"rule": "FREQ=WEEKLY", "mode": "due" | "completion"}
    recurrence: dict[str, Any] | None = None
    # Undo of a delete: the id of a task this user deleted. The task comes back exactly as it was
    # deleted (same id, from the task.deleted event's snapshot); the fields above are ignored.
    restore_id: int | None = None


# The fields of a task a client writes, defined once: CreateTask's, less its owner and the undo.
# An update's `changes`, the parsing in inputs.py, the aggregate's UPDATABLE and the REST edge's
# shape checks all derive from this; specs/events/task.schema.json ($defs/fields) is the same
# list for the wire (tests/unit/test_task_fields.py keeps the two in step).
TASK_FIELDS: tuple[str, ...] = tuple(
    spec.name for spec in fields(CreateTask) if spec.name not in {"user_id", "restore_id"}
)


@dataclass(frozen=True)
class UpdateTask(Command):
    """Only the keys present in `changes` change; a key set to None clears that field."""

    cloudevent_type = event_types.UPDATE_TASK
    task_id: int
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompleteTask(Command):
    cloudevent_type = event_types.COMPLETE_TASK
    task_id: int


@dataclass(frozen=True)
class UncompleteTask(Command):
    cloudevent_type = event_types.UNCOMPLETE_TASK
    task_id: int


@dataclass(frozen=True)
class DeleteTask(Command):
    cloudevent_type = event_types.DELETE_TASK
    task_id: int


@dataclass(frozen=True)
class SkipOccurrence(Command):
    cloudevent_type = event_types.SKIP_OCCURRENCE
    task_id: int


@dataclass(frozen=True)
class StopRepeating(Command):
    cloudevent_type = event_types.STOP_REPEATING
    task_id: int


@dataclass(frozen=True)
class SnoozeReminder(Command):
    cloudevent_type = event_types.SNOOZE_REMINDER
    task_id: int
    minutes: int = 10


@dataclass(frozen=True)
class SpawnNextOccurrence(Command):
    """Sent by spawn-recurrence for a completed recurring task; at most one per occurrence.

    `task_data` is the occurrence as it was completed (the task.completed event's snapshot): the
    next occurrence is built from it, so deleting or editing the completed task before this
    command arrives changes nothing."""

    cloudevent_type = event_types.SPAWN_OCCURRENCE
    task_id: int
    completed_at: str
    task_data: dict[str, Any]


COMMANDS: dict[str, type[Command]] = {
    command.cloudevent_type: command
    for command in (
        CreateTask,
        UpdateTask,
        CompleteTask,
        UncompleteTask,
        DeleteTask,
        SkipOccurrence,
        StopRepeating,
        SnoozeReminder,
        SpawnNextOccurrence,
    )
}
