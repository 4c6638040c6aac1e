"""Command JSON -> domain values, read in the user's zone. Every bad value raises
ValidationError naming the field and the reason, before anything changes.

This is the domain's check of meaning (real dates, known zones, RRULEs, reminders not in the
past); the shape (JSON types, known keys) was checked at the door (REST edge, create-task's
CloudEvent door). Fields that need no zone or clock (title, description, priority) are judged
by the aggregate itself (model.py), not here, so each rule lives once.

Handlers use `parse_task_fields` for both commands: its result is the keyword arguments of
`Task.new` (CreateTask) and the `changes` of `Task.update` (UpdateTask, only the keys sent).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from taskflow.domain.commands import TASK_FIELDS
from taskflow.domain.errors import ValidationError
from taskflow.domain.model import Reminder, normalise_tags
from taskflow.domain.recurrence import (
    YEAR_MAX,
    YEAR_MIN,
    Due,
    Recurrence,
    RecurrenceMode,
    from_wall_clock,
)

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BEFORE_MINUTES_MAX = 4 * 7 * 24 * 60  # four weeks
REMINDER_ID = re.compile(r"^[\w-]{1,40}$")


# Files of the system's zoneinfo folder that are no IANA zone: `localtime` is whatever the
# server's clock is set to, the others are build leftovers (issue 12, item 6).
NOT_IANA_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - NOT_IANA_ZONES


def parse_timezone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("timezone", "give an IANA timezone such as 'Europe/Berlin'")
    if name.strip() not in _iana_zones():
        raise ValidationError("timezone", f"{name!r} is not a known IANA timezone")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("timezone", f"{name!r} is not a known IANA timezone") from None


def check_year(field: str, value: date) -> None:
    """A date or moment from YEAR_MIN to YEAR_MAX, or a 422 naming `field`."""
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise ValidationError(field, f"must be a date from {YEAR_MIN} to {YEAR_MAX}")


def parse_due(value: object, tz: ZoneInfo) -> tuple[datetime | None, date | None]:
    """'2026-12-05' -> all-day; with an offset -> that moment; naive -> read in `tz`."""
    if value is None or value == "":
        return None, None
    if isinstance(value, str) and ISO_DATE.match(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError("due", f"{value!r} is not a real date") from None
        check_year("due", day)
        return None, day
    return _parse_moment("due", value, tz), None


def parse_reminders(
    items: object, tz: ZoneInfo, *, now: datetime, existing: Iterable[Reminder] = ()
) -> list[Reminder]:
    """Items are {"at": ISO date-time} or {"before_minutes": int >= 0}, with an optional "id".

    An absolute reminder in the past is rejected, unless it is one the task already has (a
    client sending a task's reminders back unchanged must not fail because one has fired).
    """
    if items is None:
        return []
    if not isinstance(items, list):
        raise ValidationError("reminders", "must be a list")
    kept = {(r.id, r.at) for r in existing if r.at is not None}
    return [_parse_reminder(item, tz, now, kept) for item in items]


def parse_recurrence(value: object, *, anchor: Due | None = None) -> Recurrence | None:
    """{"rule": "FREQ=WEEKLY", "mode": "due" | "completion"}, a bare RRULE string, or null."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return Recurrence(value, anchor=anchor)
    if not isinstance(value, dict):
        raise ValidationError("recurrence", "must be an RRULE text or {rule, mode}")
    unknown = sorted(set(value) - {"rule", "mode"})
    if unknown:
        raise ValidationError("recurrence", f"unknown key {unknown[0]!r}")
    mode = value.get("mode") or RecurrenceMode.FROM_DUE.value
    if mode not in {m.value for m in RecurrenceMode}:
        raise ValidationError("recurrence", f"mode {mode!r} is not 'due' or 'completion'")
    return Recurrence(value.get("rule"), mode=RecurrenceMode(mode), anchor=anchor)  # type: ignore[arg-type]


def parse_tags(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError("tags", "must be a list of tags")
    return normalise_tags(value)


def parse_task_fields(
    data: dict[str, Any],
    tz: ZoneInfo,
    *,
    now: datetime,
    existing_reminders: Iterable[Reminder] = (),
) -> dict[str, object]:
    """The keys of `data` (title, description, priority, tags, due, reminders, recurrence) as
    domain values; "due" becomes both due_at and due_date, one of them None."""
    if not isinstance(data, dict):
        raise ValidationError("changes", "must be an object")
    unknown = sorted(set(data) - set(TASK_FIELDS))
    if unknown:
        raise ValidationError(unknown[0], "is not a task field")
    # Title, description and priority need neither the user's zone nor the clock: they pass
    # as written, and Task.new/update judge them (model.py _valid_*), once.
    fields: dict[str, object] = {
        name: data[name] for name in ("title", "description", "priority") if name in data
    }
    if "tags" in data:
        fields["tags"] = parse_tags(data["tags"])
    if "due" in data:
        fields["due_at"], fields["due_date"] = parse_due(data["due"], tz)
    if "reminders" in data:
        fields["reminders"] = parse_reminders(
            data["reminders"], tz, now=now, existing=existing_reminders
        )
    if "recurrence" in data:
        fields["recurrence"] = parse_recurrence(data["recurrence"])
    return fields


def _parse_moment(field: str, value: object, tz: ZoneInfo) -> datetime:
    if not isinstance(value, str):
        raise ValidationError(field, f"{value!r} is not an ISO 8601 date or date-time")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            field, f"{value!r} is not an ISO 8601 date (2026-12-05) or date-time"
        ) from None
    # Before converting: 9999-12-31T23:00-05:00 in UTC is past datetime's last year.
    check_year(field, moment)
    if moment.tzinfo is None:
        return from_wall_clock(moment, tz)
    return moment.astimezone(UTC)


def _parse_reminder(
    item: object, tz: ZoneInfo, now: datetime, kept: set[tuple[str, datetime | None]]
) -> Reminder:
    if not isinstance(item, dict):
        raise ValidationError("reminders", "each reminder is {at} or {before_minutes}")
    unknown = sorted(set(item) - {"id", "at", "before_minutes"})
    if unknown:
        raise ValidationError("reminders", f"unknown key {unknown[0]!r}")
    identity: dict[str, Any] = {}
    if item.get("id") is not None:
        if not isinstance(item["id"], str) or not REMINDER_ID.match(item["id"]):
            raise ValidationError("reminders", "a reminder id is 1-40 letters, digits, - or _")
        identity["id"] = item["id"]
    at, minutes = item.get("at"), item.get("before_minutes")
    if (at is None) == (minutes is None):
        raise ValidationError("reminders", "give either 'at' or 'before_minutes'")
    if at is not None:
        moment = _parse_moment("reminders", at, tz)
        if moment <= now and (identity.get("id"), moment) not in kept:
            raise ValidationError("reminders", f"{at} is in the past")
        return Reminder(at=moment, **identity)
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise ValidationError("reminders", "before_minutes must be a whole number")
    if not 0 <= minutes <= BEFORE_MINUTES_MAX:
        raise ValidationError("reminders", f"before_minutes must be 0 to {BEFORE_MINUTES_MAX}")
    return Reminder(before=timedelta(minutes=minutes), **identity)
