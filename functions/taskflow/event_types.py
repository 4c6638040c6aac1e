"""The names of every CloudEvent type TaskFlow sends and where each travels: the one home of these
facts, and pure (standard library only), so the domain's commands and events can name their
types without loading a schema validator or a CloudEvents library. catalogue.py adds the
schemas and builds the events; the Trigger manifests in eventing/ filter on these type strings
(a test keeps them in step)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "specs" / "events"
SPEC_VERSION = "1.0"

# The three Kafka topics of the design. Each is also a Knative Broker of the same name.
TOPIC_TASK_EVENTS = "task-events"
TOPIC_REMINDERS = "reminders"
TOPIC_TASK_UPDATES = "task-updates"
TOPICS = (TOPIC_TASK_EVENTS, TOPIC_REMINDERS, TOPIC_TASK_UPDATES)

# Task lifecycle events: published to task-events (audit, recurrence, reminders) and to
# task-updates (live sync), as the original design splits them.
TASK_CREATED = "com.taskflow.task.created"
TASK_UPDATED = "com.taskflow.task.updated"
TASK_COMPLETED = "com.taskflow.task.completed"
TASK_DELETED = "com.taskflow.task.deleted"
TASK_EVENT_TYPES = (TASK_CREATED, TASK_UPDATED, TASK_COMPLETED, TASK_DELETED)

REMINDER_DUE = "com.taskflow.reminder.due"

# Commands accepted by the create-task function (the only writer of tasks).
COMMAND_PREFIX = "com.taskflow.command.task."
CREATE_TASK = COMMAND_PREFIX + "create"
UPDATE_TASK = COMMAND_PREFIX + "update"
COMPLETE_TASK = COMMAND_PREFIX + "complete"
UNCOMPLETE_TASK = COMMAND_PREFIX + "uncomplete"
DELETE_TASK = COMMAND_PREFIX + "delete"
SKIP_OCCURRENCE = COMMAND_PREFIX + "skip"
STOP_REPEATING = COMMAND_PREFIX + "stoprepeating"
SNOOZE_REMINDER = COMMAND_PREFIX + "snooze"
SPAWN_OCCURRENCE = COMMAND_PREFIX + "spawn"
COMMAND_TYPES = (
    CREATE_TASK,
    UPDATE_TASK,
    COMPLETE_TASK,
    UNCOMPLETE_TASK,
    DELETE_TASK,
    SKIP_OCCURRENCE,
    STOP_REPEATING,
    SNOOZE_REMINDER,
    SPAWN_OCCURRENCE,
)

# The synchronous answer of create-task to a direct invocation (POST /commands); never routed.
COMMAND_RESULT = "com.taskflow.command.result"


@dataclass(frozen=True)
class EventType:
    type: str
    topics: tuple[str, ...]
    description: str

    @property
    def schema_file(self) -> Path:
        return SCHEMA_DIR / f"{self.type}.schema.json"


CATALOGUE: dict[str, EventType] = {
    TASK_CREATED: EventType(TASK_CREATED, (TOPIC_TASK_EVENTS, TOPIC_TASK_UPDATES), "a task exists"),
    TASK_UPDATED: EventType(
        TASK_UPDATED, (TOPIC_TASK_EVENTS, TOPIC_TASK_UPDATES), "fields changed"
    ),
    TASK_COMPLETED: EventType(
        TASK_COMPLETED, (TOPIC_TASK_EVENTS, TOPIC_TASK_UPDATES), "an occurrence was completed"
    ),
    TASK_DELETED: EventType(TASK_DELETED, (TOPIC_TASK_EVENTS, TOPIC_TASK_UPDATES), "task removed"),
    REMINDER_DUE: EventType(REMINDER_DUE, (TOPIC_REMINDERS,), "a reminder fell due"),
    **{
        command: EventType(command, (TOPIC_TASK_EVENTS,), "a command for create-task")
        for command in COMMAND_TYPES
    },
    COMMAND_RESULT: EventType(COMMAND_RESULT, (), "create-task's reply to a direct invocation"),
}


def source(service: str) -> str:
    """The CloudEvent `source` of everything a service emits, e.g. /taskflow/create-task."""
    return f"/taskflow/{service}"


class UnknownEventType(ValueError):
    pass


def event_type(type_: str) -> EventType:
    try:
        return CATALOGUE[type_]
    except KeyError:
        raise UnknownEventType(f"unknown CloudEvent type {type_!r}") from None
