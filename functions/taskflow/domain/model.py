"""The task aggregate and its value objects. Pure Python: no I/O, no framework.

Time rules: every datetime held here is timezone-aware UTC. A due is either a moment (`due_at`)
or an all-day date (`due_date`), never both; an all-day date is never turned into a midnight.
Wall-clock arithmetic (recurrence, "9am") happens in the user's zone, see recurrence.py.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from taskflow.domain import events
from taskflow.domain.commands import TASK_FIELDS
from taskflow.domain.errors import InvalidOperation, SeriesCannotContinue, ValidationError
from taskflow.domain.recurrence import (
    YEAR_MAX,
    YEAR_MIN,
    Due,
    Recurrence,
    RecurrenceMode,
    from_wall_clock,
    local_wall_clock,
)

__all__ = ["Priority", "Recurrence", "RecurrenceMode", "Reminder", "Task"]

TITLE_MAX = 200
DESCRIPTION_MAX = 1000
TAG_MAX = 50
TAGS_MAX = 20
REMINDERS_MAX = 10
SNOOZE_MAX_MINUTES = 7 * 24 * 60
# The one reminder a snooze moves, so snoozing twice does not pile up reminders.
SNOOZE_REMINDER_ID = "snooze"
TAG_PATTERN = re.compile(r"^[\w\-/.]+$")


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


@dataclass(frozen=True)
class Reminder:
    """Either absolute (`at`, UTC) or relative to the due (`before`, e.g. 30 minutes)."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    at: datetime | None = None
    before: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.at is None) == (self.before is None):
            raise ValidationError("reminders", "a reminder is either absolute or relative to due")
        if self.at is not None:
            if self.at.tzinfo is None:
                raise ValidationError("reminders", "an absolute reminder needs a timezone")
            object.__setattr__(self, "at", self.at.astimezone(UTC))
        if self.before is not None and self.before < timedelta(0):
            raise ValidationError("reminders", "a relative reminder cannot be after the due")

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at.astimezone(UTC).isoformat() if self.at else None,
            "before_minutes": (
                int(self.before.total_seconds() // 60) if self.before is not None else None
            ),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reminder:
        minutes = data.get("before_minutes")
        return cls(
            id=str(data["id"]),
            at=datetime.fromisoformat(data["at"]) if data.get("at") else None,
            before=timedelta(minutes=int(minutes)) if minutes is not None else None,
        )


@dataclass
class Task:
    """The aggregate. Mutating methods validate, change state and record domain events.

    Events snapshot `to_dict()` when recorded, so their task_data is the task after the change.
    """

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

    # -- creation -------------------------------------------------------------------------

    @classmethod
    def new(
        cls,
        user_id: str,
        title: str,
        *,
        description: str | None = "",
        priority: Priority | str | None = Priority.NONE,
        tags: Iterable[str] = (),
        due_at: datetime | None = None,
        due_date: date | None = None,
        reminders: Iterable[Reminder] = (),
        recurrence: Recurrence | None = None,
        now: datetime,
    ) -> Task:
        """A validated new task. It has no id yet, hence no event: see `mark_created`."""
        due_at, due_date = _valid_due(due_at, due_date)
        reminders = list(reminders)
        due = due_at or due_date
        if recurrence is not None and due is not None:
            # The first due of a series anchors its schedule.
            recurrence = recurrence.anchored_at(due)
        _check_schedule(due, reminders, recurrence)
        return cls(
            user_id=user_id,
            title=_valid_title(title),
            description=_valid_description(description),
            priority=_valid_priority(priority),
            tags=normalise_tags(tags),
            due_at=due_at,
            due_date=due_date,
            reminders=reminders,
            recurrence=recurrence,
            created_at=now,
            updated_at=now,
        )

    def mark_created(self, spawned_from: int | None = None) -> None:
        """Called once the repository gave the task its id."""
        if self.id is None:
            raise InvalidOperation("a task needs its id before it is announced")
        self.events.append(
            events.TaskCreated(
                user_id=self.user_id,
                task_id=self.id,
                task_data=self.to_dict(),
                spawned_from=spawned_from,
            )
        )

    # -- changes --------------------------------------------------------------------------

    def update(self, changes: dict[str, object], *, now: datetime) -> None:
        """Apply field changes (see UPDATABLE); records TaskUpdated with what really changed."""
        unknown = sorted(set(changes) - set(UPDATABLE))
        if unknown:
            raise ValidationError(unknown[0], "is not a field that can be changed")
        if changes.get("due_at") is not None and changes.get("due_date") is not None:
            raise ValidationError("due", "a task has either a due time or an all-day date")
        due_at, due_date = self.due_at, self.due_date
        if changes.get("due_at") is not None:
            due_at, due_date = changes["due_at"], None  # type: ignore[assignment]
        elif changes.get("due_date") is not None:
            due_at, due_date = None, changes["due_date"]  # type: ignore[assignment]
        else:  # a key present with None clears the due
            due_at = None if "due_at" in changes else due_at
            due_date = None if "due_date" in changes else due_date
        due_at, due_date = _valid_due(due_at, due_date)
        reminders = list(changes.get("reminders", self.reminders) or [])  # type: ignore[call-overload]
        recurrence = self._updated_recurrence(changes, due_at or due_date)
        _check_schedule(due_at or due_date, reminders, recurrence)
        after = {
            "title": _valid_title(changes.get("title", self.title)),
            "description": _valid_description(changes.get("description", self.description)),
            "priority": _valid_priority(changes.get("priority", self.priority)),
            "tags": normalise_tags(changes.get("tags", self.tags) or []),  # type: ignore[arg-type]
            "due_at": due_at,
            "due_date": due_date,
            "reminders": reminders,
            "recurrence": recurrence,
        }
        self._apply(after, now=now)

    def complete(self, *, now: datetime) -> None:
        if self.completed:
            return
        self.completed, self.completed_at, self.updated_at = True, now, now
        self._record(events.TaskCompleted)

    def uncomplete(self, *, now: datetime) -> None:
        if not self.completed:
            return
        self._apply({"completed": False, "completed_at": None}, now=now)

    def delete(self, *, now: datetime, reason: str | None = None) -> None:
        self.updated_at = now
        self._record(events.TaskDeleted, reason=reason)

    def skip_occurrence(self, tz: ZoneInfo, *, now: datetime) -> None:
        """Move to the next occurrence of the schedule without completing this one."""
        due = self._due_of_series()
        assert self.recurrence is not None
        next_due = self.recurrence.next_due(due, tz, now=now)
        if next_due is None:
            raise InvalidOperation(
                "this is the last occurrence of the series: complete or delete it instead"
            )
        self._apply(
            {
                **_due_fields(next_due),
                "reminders": _shift_reminders(self.reminders, due, next_due, tz),
                "recurrence": self.recurrence.advanced(),
            },
            now=now,
        )

    def stop_repeating(self, *, now: datetime) -> None:
        self._apply({"recurrence": None}, now=now)

    def end_series(self, reason: str, *, now: datetime) -> None:
        """Stop repeating because the series cannot go on; the event says why."""
        self._apply({"recurrence": None}, now=now, reason=reason)

    def snooze(self, minutes: int, *, now: datetime) -> None:
        """Remind again in `minutes` (moves the earlier snooze instead of adding a second one)."""
        if self.completed:
            raise InvalidOperation("a completed task has no reminder to snooze")
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise ValidationError("minutes", "must be a whole number of minutes")
        if not 1 <= minutes <= SNOOZE_MAX_MINUTES:
            raise ValidationError("minutes", f"must be from 1 to {SNOOZE_MAX_MINUTES}")
        others = [r for r in self.reminders if r.id != SNOOZE_REMINDER_ID]
        snoozed = Reminder(id=SNOOZE_REMINDER_ID, at=now + timedelta(minutes=minutes))
        reminders = [*others, snoozed]
        _check_reminder_count(reminders)
        self._apply({"reminders": reminders}, now=now)

    # -- recurrence -----------------------------------------------------------------------

    def next_occurrence(self, tz: ZoneInfo, *, completed_at: datetime) -> Task | None:
        """The next task of the series (not persisted, no event), or None when it ended."""
        due = self._due_of_series()
        assert self.recurrence is not None
        try:
            next_due = self.recurrence.next_due(
                due, tz, now=completed_at, completed_at=completed_at
            )
        except (OverflowError, ValueError):
            # dateutil walks past datetime's last year (a series of a task due in 9998 created
            # before dues were bounded): the spawn must not fail over and over.
            raise SeriesCannotContinue(
                f"the series ended: its next date after {_json(due)} cannot be computed"
            ) from None
        if next_due is None:
            return None
        if not YEAR_MIN <= next_due.year <= YEAR_MAX:
            raise SeriesCannotContinue(
                f"the series ended: its next date, {_json(next_due)}, falls outside the years"
                f" {YEAR_MIN}-{YEAR_MAX} a due may have"
            )
        fields = _due_fields(next_due)
        return Task(
            user_id=self.user_id,
            title=self.title,
            description=self.description,
            priority=self.priority,
            tags=list(self.tags),
            due_at=fields["due_at"],  # type: ignore[arg-type]
            due_date=fields["due_date"],  # type: ignore[arg-type]
            reminders=[
                replace(r, id=uuid.uuid4().hex[:12])
                for r in _shift_reminders(self.reminders, due, next_due, tz)
            ],
            recurrence=self.recurrence.advanced(),
            created_at=completed_at,
            updated_at=completed_at,
        )

    # -- serialisation --------------------------------------------------------------------

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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """Rebuild a task from `to_dict()` output (e.g. an event's task_data)."""
        return cls(
            id=data.get("id"),
            user_id=data["user_id"],
            title=data["title"],
            description=data.get("description") or "",
            completed=bool(data.get("completed")),
            completed_at=_parse_moment(data.get("completed_at")),
            priority=Priority.parse(data.get("priority")),
            tags=list(data.get("tags") or []),
            due_at=_parse_moment(data.get("due_at")),
            due_date=date.fromisoformat(data["due_date"]) if data.get("due_date") else None,
            reminders=[Reminder.from_dict(r) for r in data.get("reminders") or []],
            recurrence=Recurrence.from_dict(data["recurrence"]) if data.get("recurrence") else None,
            created_at=_parse_moment(data["created_at"]) or datetime.now(UTC),
            updated_at=_parse_moment(data["updated_at"]) or datetime.now(UTC),
        )

    # -- internals ------------------------------------------------------------------------

    def _due_of_series(self) -> Due:
        if self.recurrence is None:
            raise InvalidOperation("this task does not repeat")
        due = self.due_at or self.due_date
        if due is None:  # new()/update() forbid it; guards data written by hand
            raise InvalidOperation("a repeating task needs a due")
        return due

    def _updated_recurrence(self, changes: dict[str, object], due: Due | None) -> Recurrence | None:
        recurrence = self.recurrence
        if "recurrence" in changes:
            wanted = changes["recurrence"]
            if wanted is not None and not isinstance(wanted, Recurrence):
                raise ValidationError("recurrence", "must be a recurrence or null")
            if wanted is not None and recurrence is not None:
                # A new rule continues the same series: its id and count stay.
                wanted = replace(
                    wanted, series_id=recurrence.series_id, occurrence=recurrence.occurrence
                )
            recurrence = wanted
        due_moved = due != (self.due_at or self.due_date)
        if recurrence is not None and due is not None and (due_moved or "recurrence" in changes):
            # Moving the due by hand re-anchors the schedule on the new due.
            recurrence = recurrence.anchored_at(due)
        return recurrence

    def _apply(self, after: dict[str, object], *, now: datetime, reason: str | None = None) -> None:
        """Set fields, then record TaskUpdated with the fields whose JSON really changed."""
        changed: dict[str, dict[str, Any]] = {}
        for name, value in after.items():
            before_json, after_json = _json(getattr(self, name)), _json(value)
            if before_json != after_json:
                changed[name] = {"before": before_json, "after": after_json}
                setattr(self, name, value)
        if not changed:
            return
        self.updated_at = now
        self._record(events.TaskUpdated, changes=changed, reason=reason)

    def _record(self, event_type: type[events.TaskEvent], **extra: Any) -> None:
        if self.id is None:
            raise InvalidOperation("a task needs its id before it changes")
        self.events.append(
            event_type(user_id=self.user_id, task_id=self.id, task_data=self.to_dict(), **extra)
        )


# The attributes Task.update changes: the task fields, with a due stored as due_at or due_date.
UPDATABLE = tuple(
    attribute
    for name in TASK_FIELDS
    for attribute in (("due_at", "due_date") if name == "due" else (name,))
)


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def normalise_tags(tags: Iterable[str]) -> list[str]:
    """Lower-case, trimmed, without a leading '#', de-duplicated in first-seen order."""
    if isinstance(tags, str):
        raise ValidationError("tags", "must be a list of tags")
    result: list[str] = []
    for raw in tags:
        if not isinstance(raw, str):
            raise ValidationError("tags", f"{raw!r} is not text")
        tag = raw.strip().lstrip("#").strip().lower()
        if not tag:
            raise ValidationError("tags", "a tag cannot be empty")
        if len(tag) > TAG_MAX:
            raise ValidationError("tags", f"{tag!r} is longer than {TAG_MAX} characters")
        if not TAG_PATTERN.match(tag):
            raise ValidationError(
                "tags", f"{tag!r} may contain only letters, digits, '-', '_', '/' and '.'"
            )
        if tag not in result:
            result.append(tag)
    if len(result) > TAGS_MAX:
        raise ValidationError("tags", f"at most {TAGS_MAX} tags per task")
    return result


def _valid_title(title: object) -> str:
    if not isinstance(title, str):
        raise ValidationError("title", "must be text")
    text = title.strip()
    if not text:
        raise ValidationError("title", "must not be empty")
    if len(text) > TITLE_MAX:
        raise ValidationError("title", f"must be at most {TITLE_MAX} characters, got {len(text)}")
    if "\n" in text or "\r" in text:
        raise ValidationError("title", "must be a single line (use the description)")
    return text


def _valid_description(description: object) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise ValidationError("description", "must be text")
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(
            "description",
            f"must be at most {DESCRIPTION_MAX} characters, got {len(description)}",
        )
    return description


def _valid_priority(priority: object) -> Priority:
    """A Priority, or a client's name of one (none/low/medium/high, p1-p4, null: none)."""
    if isinstance(priority, Priority):
        return priority
    if priority is not None and not isinstance(priority, str):
        raise ValidationError("priority", "must be one of none, low, medium, high, p1-p4")
    return Priority.parse(priority)


def _valid_due(due_at: object, due_date: object) -> tuple[datetime | None, date | None]:
    if due_at is not None and due_date is not None:
        raise ValidationError("due", "a task has either a due time or an all-day date, not both")
    if due_at is not None:
        if not isinstance(due_at, datetime) or due_at.tzinfo is None:
            raise ValidationError("due", "a due time needs a timezone")
        return due_at.astimezone(UTC), None
    if due_date is not None and (isinstance(due_date, datetime) or not isinstance(due_date, date)):
        raise ValidationError("due", "an all-day due is a date without a time")
    return None, due_date  # type: ignore[return-value]


def _check_reminder_count(reminders: list[Reminder]) -> None:
    if len(reminders) > REMINDERS_MAX:
        raise ValidationError("reminders", f"at most {REMINDERS_MAX} reminders per task")


def _check_schedule(
    due: Due | None, reminders: list[Reminder], recurrence: Recurrence | None
) -> None:
    if not all(isinstance(r, Reminder) for r in reminders):
        raise ValidationError("reminders", "must be a list of reminders")
    _check_reminder_count(reminders)
    if len({r.id for r in reminders}) != len(reminders):
        raise ValidationError("reminders", "two reminders share an id")
    if due is None and any(r.before is not None for r in reminders):
        raise ValidationError("reminders", "a reminder relative to the due needs a due")
    if recurrence is None:
        return
    if due is None:
        raise ValidationError("recurrence", "a repeating task needs a due")
    if recurrence.needs_time_of_day and not isinstance(due, datetime):
        raise ValidationError("recurrence", "an hourly rule needs a due time, not an all-day date")
    if recurrence.ends_before(due):
        raise ValidationError("recurrence", "UNTIL must not fall before the due")


def _due_fields(due: Due) -> dict[str, object]:
    if isinstance(due, datetime):
        return {"due_at": due, "due_date": None}
    return {"due_at": None, "due_date": due}


def _shift_reminders(reminders: list[Reminder], old: Due, new: Due, tz: ZoneInfo) -> list[Reminder]:
    """Relative reminders follow the due by themselves; absolute ones move by the due's shift,
    measured on the local wall clock so "8am the day before" stays 8am across DST."""
    if isinstance(old, datetime) and isinstance(new, datetime):
        shift = local_wall_clock(new, tz) - local_wall_clock(old, tz)
    else:
        shift = timedelta(days=(_day(new, tz) - _day(old, tz)).days)
    return [
        replace(r, at=from_wall_clock(local_wall_clock(r.at, tz) + shift, tz)) if r.at else r
        for r in reminders
        if r.id != SNOOZE_REMINDER_ID  # a snooze belongs to the occurrence it was set on
    ]


def _day(due: Due, tz: ZoneInfo) -> date:
    return due.astimezone(tz).date() if isinstance(due, datetime) else due


def _json(value: object) -> object:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Recurrence | Reminder):
        return value.to_dict()
    if isinstance(value, list):
        return [_json(item) for item in value]
    return value


def _parse_moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None
