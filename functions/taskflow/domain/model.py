"""The task aggregate and its value objects. Pure Python: no I/O, no framework.

Time rules: every datetime held here is timezone-aware UTC. A due is either a moment (`due_at`)
or an all-day date (`due_date`), never both; an all-day date is never turned into a midnight.
Wall-clock arithmetic (recurrence, "9am") happens in the user's zone, see recurrence.py.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from taskflow.domain import events
from taskflow.domain.errors import ValidationError

TITLE_MAX = 200
DESCRIPTION_MAX = 1000
TAG_MAX = 50
TAGS_MAX = 20
REMINDERS_MAX = 10


class Priority(enum.StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @classmethod
    def parse(cls, value: str | None) -> Priority:
        """Accept none/low/medium/high and Todoist's p1 (high) .. p4 (none), any case."""
        if value is None or value == "":
            return cls.NONE
        text = str(value).strip().lower()
        todoist = {"p1": cls.HIGH, "p2": cls.MEDIUM, "p3": cls.LOW, "p4": cls.NONE}
        if text in todoist:
            return todoist[text]
        try:
            return cls(text)
        except ValueError:
            raise ValidationError(
                "priority", f"{value!r} is not one of none, low, medium, high, p1-p4"
            ) from None

    @property
    def rank(self) -> int:
        """Sort weight: high first when sorting by priority descending."""
        return {"none": 0, "low": 1, "medium": 2, "high": 3}[self.value]


class RecurrenceMode(enum.StrEnum):
    FROM_DUE = "due"  # next occurrence follows the schedule ("every week")
    FROM_COMPLETION = "completion"  # next occurrence counts from completion ("every! week")


@dataclass(frozen=True)
class Recurrence:
    """An RFC 5545 RRULE (without DTSTART) and its mode.

    `anchor` is the series' first due (local wall clock is derived from it and the user's zone);
    `series_id` names the series so each occurrence is spawned at most once.
    """

    rule: str
    mode: RecurrenceMode = RecurrenceMode.FROM_DUE
    series_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurrence: int = 1

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "mode": self.mode.value,
            "series_id": self.series_id,
            "occurrence": self.occurrence,
        }


@dataclass(frozen=True)
class Reminder:
    """Either absolute (`at`, UTC) or relative to the due (`before`, e.g. 30 minutes)."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    at: datetime | None = None
    before: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.at is None) == (self.before is None):
            raise ValidationError("reminders", "a reminder is either absolute or relative to due")
        if self.at is not None and self.at.tzinfo is None:
            raise ValidationError("reminders", "an absolute reminder needs a timezone")
        if self.before is not None and self.before < timedelta(0):
            raise ValidationError("reminders", "a relative reminder cannot be after the due")

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at.astimezone(UTC).isoformat() if self.at else None,
            "before_minutes": int(self.before.total_seconds() // 60) if self.before else None,
        }


@dataclass
class Task:
    """The aggregate. Mutating methods validate, change state and record domain events."""

    user_id: str
    title: str
    id: int | None = None
    description: str = ""
    completed: bool = False
    completed_at: datetime | None = None
    priority: Priority = Priority.NONE
    tags: list[str] = field(default_factory=list)
    due_at: datetime | None = None
    due_date: date | None = None
    reminders: list[Reminder] = field(default_factory=list)
    recurrence: Recurrence | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: list[events.Event] = field(default_factory=list, repr=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        """The full task as it travels in events (`task_data`) and API answers."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "title": self.title,
            "description": self.description,
            "completed": self.completed,
            "completed_at": iso(self.completed_at),
            "priority": self.priority.value,
            "tags": list(self.tags),
            "due_at": iso(self.due_at),
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "reminders": [r.to_dict() for r in self.reminders],
            "recurrence": self.recurrence.to_dict() if self.recurrence else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None
