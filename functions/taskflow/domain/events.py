"""Domain events: small dataclasses recorded by the aggregate, stored in the outbox in the same
transaction as the change, and published as the CloudEvents of catalogue.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from taskflow import event_types


@dataclass(frozen=True)
class Event:
    cloudevent_type: ClassVar[str]
    user_id: str


@dataclass(frozen=True)
class TaskEvent(Event):
    task_id: int
    task_data: dict[str, Any]


@dataclass(frozen=True)
class TaskCreated(TaskEvent):
    cloudevent_type = event_types.TASK_CREATED
    spawned_from: int | None = None


@dataclass(frozen=True)
class TaskUpdated(TaskEvent):
    cloudevent_type = event_types.TASK_UPDATED
    # field name -> {"before": old, "after": new}, JSON-ready
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Set when TaskFlow itself made the change, to tell the user why: "the series ended: ...".
    reason: str | None = None


@dataclass(frozen=True)
class TaskCompleted(TaskEvent):
    cloudevent_type = event_types.TASK_COMPLETED


@dataclass(frozen=True)
class TaskDeleted(TaskEvent):
    cloudevent_type = event_types.TASK_DELETED
    # Set when TaskFlow itself deleted it, to tell the user why (a next occurrence taken back
    # with its completion); None for the user's own delete.
    reason: str | None = None


@dataclass(frozen=True)
class ReminderDue(Event):
    cloudevent_type = event_types.REMINDER_DUE
    task_id: int
    reminder_id: str
    title: str
    due_at: str | None
    remind_at: str
