"""Recurrence: an RFC 5545 RRULE plus a mode, and the maths of the next occurrence.

All schedule arithmetic happens on the user's LOCAL wall clock (a naive local datetime fed to
dateutil's rrule) and the result is converted back to UTC, so "daily at 09:00" stays 09:00 local
across DST changes. All-day dues stay dates from start to finish.

Decisions (see specs/task-domain.md):
- COUNT counts the occurrences (tasks) of the series, tracked by `Recurrence.occurrence`; UNTIL is
  applied to each candidate (a date UNTIL is inclusive in the user's zone).
- FROM_DUE follows the schedule anchored at the series' first due (`anchor`) and skips missed
  occurrences: the next due is the first one after the current due that is not in the past.
- FROM_COMPLETION ("every!") counts from the completion date, keeping the due's local time.
- A monthly rule anchored on the 29th-31st without BYxxx parts lands on the last day of shorter
  months and returns to the anchor day; a yearly rule anchored on Feb 29 lands on Feb 28 in
  common years.
- A local time that does not exist (spring-forward gap) is read with the offset before the
  change, i.e. it moves forward by the gap; an ambiguous one (fall-back) takes its first instant.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from taskflow.domain.errors import ValidationError

# Dues outside these years are refused (issue 12, item 5): near year 1 or 9999 the arithmetic of
# reminders, recurrences and day bounds overflows, and no task is planned that far anyway.
YEAR_MIN = 1900
YEAR_MAX = 2200

Due: TypeAlias = datetime | date

FIELD = "recurrence"
FREQUENCIES = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# BYHOUR/BYMINUTE/BYSECOND are left out on purpose: a task's time of day comes from its due.
PARTS = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYSETPOS",
    "WKST",
)
COUNT_MAX = 1000
INTERVAL_MAX = 1000


class RecurrenceMode(enum.StrEnum):
    FROM_DUE = "due"  # next occurrence follows the schedule ("every week")
    FROM_COMPLETION = "completion"  # next occurrence counts from completion ("every! week")


@dataclass(frozen=True)
class Recurrence:
    """An RFC 5545 RRULE (without DTSTART) and its mode.

    `anchor` is the series' first due: the schedule's phase (every 2 weeks from when?) and its
    month-end behaviour come from it. `series_id` names the series and `occurrence` numbers the
    task within it, so each occurrence is spawned at most once and COUNT can end the series.
    """

    rule: str
    mode: RecurrenceMode = RecurrenceMode.FROM_DUE
    series_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurrence: int = 1
    anchor: Due | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", _canonical(parse_rule(self.rule)))
        try:
            object.__setattr__(self, "mode", RecurrenceMode(self.mode))
        except ValueError:
            raise ValidationError(
                FIELD, f"mode {self.mode!r} is not 'due' or 'completion'"
            ) from None
        if self.occurrence < 1:
            raise ValidationError(FIELD, "occurrence starts at 1")

    @property
    def parts(self) -> dict[str, str]:
        return parse_rule(self.rule)

    @property
    def needs_time_of_day(self) -> bool:
        """An hourly rule cannot drive an all-day date."""
        return self.parts["FREQ"] == "HOURLY"

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "mode": self.mode.value,
            "series_id": self.series_id,
            "occurrence": self.occurrence,
            "anchor": due_to_json(self.anchor),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Recurrence:
        return cls(
            rule=str(data["rule"]),
            mode=RecurrenceMode(str(data.get("mode") or RecurrenceMode.FROM_DUE.value)),
            series_id=str(data["series_id"]),
            occurrence=int(data.get("occurrence") or 1),  # type: ignore[call-overload]
            anchor=due_from_json(data.get("anchor")),  # type: ignore[arg-type]
        )

    def anchored_at(self, due: Due) -> Recurrence:
        return replace(self, anchor=due)

    def ends_before(self, due: Due) -> bool:
        """UNTIL falls before `due`, in whatever zone the user lives: such a series would have
        no occurrence after the first (issue 12, item 6), so the rule is refused. When UNTIL and
        the due are not both moments or both dates, a day of slack covers every zone."""
        if "UNTIL" not in self.parts:
            return False
        until = _parse_until(self.parts["UNTIL"])
        if isinstance(until, datetime) and isinstance(due, datetime) and until.tzinfo is not None:
            return until < due
        if not isinstance(until, datetime) and not isinstance(due, datetime):
            return until < due
        until_day = until.date() if isinstance(until, datetime) else until
        due_day = due.date() if isinstance(due, datetime) else due
        return until_day < due_day - timedelta(days=1)

    def advanced(self) -> Recurrence:
        """The recurrence of the next occurrence of this series."""
        return replace(self, occurrence=self.occurrence + 1)

    def next_due(
        self, due: Due, tz: ZoneInfo, *, now: datetime, completed_at: datetime | None = None
    ) -> Due | None:
        """The due of the occurrence after the one due at `due`, or None when the series ended.

        With `completed_at` and FROM_COMPLETION mode the schedule restarts at the completion date;
        otherwise (FROM_DUE, or skipping, which completes nothing) it follows the schedule.
        """
        parts = self.parts
        if "COUNT" in parts and self.occurrence >= int(parts["COUNT"]):
            return None
        until = _parse_until(parts["UNTIL"]) if "UNTIL" in parts else None
        schedule = _schedule(parts)
        if self.mode is RecurrenceMode.FROM_COMPLETION and completed_at is not None:
            candidates = _after_completion(schedule, due, tz, completed_at)
        else:
            anchor = (
                self.anchor if self.anchor is not None and _same_kind(self.anchor, due) else due
            )
            candidates = _after_due(schedule, anchor, due, tz, now)
        candidate = next(candidates, None)
        if candidate is None or _beyond_until(candidate, until, tz):
            return None
        return candidate


def first_due(rule: str, start: Due, tz: ZoneInfo, *, now: datetime) -> Due | None:
    """The first occurrence of `rule` at or after `start` that is not in the past: the due of a
    new series given only as "every monday" (COUNT and UNTIL do not apply to the first one).
    INTERVAL spaces the occurrences after the first, not the first itself: "every other
    tuesday" said on a Friday starts next Tuesday, not the one after."""
    just_before = start - (
        timedelta(microseconds=1) if isinstance(start, datetime) else timedelta(days=1)
    )
    parts = {key: value for key, value in parse_rule(rule).items() if key != "INTERVAL"}
    return next(_after_due(_schedule(parts), start, just_before, tz, now), None)


def parse_rule(text: object) -> dict[str, str]:
    """Check an RRULE text and return its parts, upper-cased. Raises ValidationError."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(FIELD, "the rule is empty")
    body = text.strip().upper()
    if "DTSTART" in body:
        raise ValidationError(FIELD, "the rule must not contain DTSTART: the due starts the series")
    body = body.removeprefix("RRULE:")
    if "\n" in body or ":" in body:
        raise ValidationError(FIELD, "give one RRULE line, e.g. FREQ=WEEKLY;BYDAY=MO")
    parts: dict[str, str] = {}
    for chunk in filter(None, (c.strip() for c in body.split(";"))):
        key, sep, value = (s.strip() for s in chunk.partition("="))
        if not sep or not value:
            raise ValidationError(FIELD, f"{chunk!r} is not NAME=VALUE")
        if key not in PARTS:
            raise ValidationError(FIELD, f"unknown or unsupported part {key!r}")
        if key in parts:
            raise ValidationError(FIELD, f"{key} appears twice")
        parts[key] = value
    if "FREQ" not in parts:
        raise ValidationError(FIELD, "FREQ is missing")
    if parts["FREQ"] not in FREQUENCIES:
        raise ValidationError(FIELD, f"FREQ must be one of {', '.join(FREQUENCIES)}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValidationError(FIELD, "COUNT and UNTIL cannot both end a series")
    _check_positive(parts, "INTERVAL", INTERVAL_MAX)
    _check_positive(parts, "COUNT", COUNT_MAX)
    if "UNTIL" in parts:
        _parse_until(parts["UNTIL"])
    try:
        start = datetime(2000, 1, 1)
        # An impossible rule (Feb 30) is rejected here; dateutil spends ~0.5 s to find that out.
        happens = _rrule(_schedule(parts), start).after(start, inc=True)
    except (ValueError, TypeError) as error:
        raise ValidationError(FIELD, f"invalid rule: {error}") from None
    if happens is None:
        raise ValidationError(FIELD, "the rule never happens")
    return parts


def local_wall_clock(moment: datetime, tz: ZoneInfo) -> datetime:
    """The naive local date-time a user in `tz` reads on the clock at `moment`."""
    return moment.astimezone(tz).replace(tzinfo=None)


def from_wall_clock(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC moment of a naive local date-time (gap: moves forward; overlap: first instant)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def due_to_json(due: Due | None) -> str | None:
    if due is None:
        return None
    if isinstance(due, datetime):
        return due.astimezone(UTC).isoformat()
    return due.isoformat()


def due_from_json(value: str | None) -> Due | None:
    if not value:
        return None
    if "T" in value:
        return datetime.fromisoformat(value).astimezone(UTC)
    return date.fromisoformat(value)


def _check_positive(parts: dict[str, str], key: str, maximum: int) -> None:
    if key in parts and not (parts[key].isdigit() and 1 <= int(parts[key]) <= maximum):
        raise ValidationError(FIELD, f"{key} must be a whole number from 1 to {maximum}")


def _schedule(parts: dict[str, str]) -> dict[str, str]:
    """The rule without its ends: COUNT and UNTIL are applied by `next_due` itself."""
    return {key: value for key, value in parts.items() if key not in ("COUNT", "UNTIL")}


def _canonical(parts: dict[str, str]) -> str:
    return ";".join(f"{key}={parts[key]}" for key in PARTS if key in parts)


def _parse_until(value: str) -> Due:
    """UNTIL as a date (inclusive local day), a UTC moment (…Z) or a floating local time."""
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").date()
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return datetime.strptime(value, "%Y%m%dT%H%M%S")
    except ValueError:
        raise ValidationError(
            FIELD, f"UNTIL {value!r} is not YYYYMMDD or YYYYMMDDTHHMMSSZ"
        ) from None


def _beyond_until(candidate: Due, until: Due | None, tz: ZoneInfo) -> bool:
    if until is None:
        return False
    if isinstance(until, datetime):
        if until.tzinfo is None:  # floating: compare on the local wall clock
            local = (
                local_wall_clock(candidate, tz)
                if isinstance(candidate, datetime)
                else datetime.combine(candidate, time())
            )
            return local > until
        if isinstance(candidate, datetime):
            return candidate > until
        return candidate > until.astimezone(tz).date()
    local_day = candidate.astimezone(tz).date() if isinstance(candidate, datetime) else candidate
    return local_day > until


def _same_kind(anchor: Due, due: Due) -> bool:
    return isinstance(anchor, datetime) == isinstance(due, datetime)


def _month_end_safe(parts: dict[str, str], start: datetime) -> dict[str, str]:
    """Make "monthly on the 31st" land on the last day of shorter months (and Feb 29 on Feb 28).

    dateutil skips months that lack the day; the set of days 28..anchor day with BYSETPOS=-1
    picks the anchor day when the month has it and the month's last day otherwise.
    """
    if any(key.startswith("BY") for key in parts):
        return parts
    if parts["FREQ"] == "MONTHLY" and start.day >= 29:
        days = ",".join(str(day) for day in range(28, start.day + 1))
        return {**parts, "BYMONTHDAY": days, "BYSETPOS": "-1"}
    if parts["FREQ"] == "YEARLY" and (start.month, start.day) == (2, 29):
        return {**parts, "BYMONTH": "2", "BYMONTHDAY": "28,29", "BYSETPOS": "-1"}
    return parts


def _occurrences_after(
    parts: dict[str, str], dtstart: datetime, after: datetime
) -> Iterator[datetime]:
    """The rule's local occurrences, for a series starting at `dtstart`, after `after`."""
    return iter(_rrule(parts, dtstart).xafter(after))


def _rrule(parts: dict[str, str], dtstart: datetime) -> rrule:
    schedule = rrulestr(_canonical(_month_end_safe(parts, dtstart)), dtstart=dtstart)
    assert isinstance(schedule, rrule)
    return schedule


def _after_due(
    parts: dict[str, str], anchor: Due, due: Due, tz: ZoneInfo, now: datetime
) -> Iterator[Due]:
    """Occurrences after `due` that are not in the past (missed ones are skipped)."""
    if isinstance(due, datetime):
        assert isinstance(anchor, datetime)
        # Starting a day before `now` skips the missed occurrences without visiting each one.
        start = max(local_wall_clock(due, tz), local_wall_clock(now, tz) - timedelta(days=1))
        for local in _occurrences_after(parts, local_wall_clock(anchor, tz), start):
            moment = from_wall_clock(local, tz)
            if moment > now and moment > due:
                yield moment
        return
    today = now.astimezone(tz).date()
    start_day = datetime.combine(max(due, today - timedelta(days=1)), time())
    for local in _occurrences_after(parts, datetime.combine(anchor, time()), start_day):
        yield local.date()


def _after_completion(
    parts: dict[str, str], due: Due, tz: ZoneInfo, completed_at: datetime
) -> Iterator[Due]:
    """Occurrences after the completion day, at the due's local time of day."""
    completion_day = completed_at.astimezone(tz).date()
    if isinstance(due, datetime):
        start = datetime.combine(completion_day, local_wall_clock(due, tz).time())
        for local in _occurrences_after(parts, start, start):
            yield from_wall_clock(local, tz)
        return
    start = datetime.combine(completion_day, time())
    for local in _occurrences_after(parts, start, start):
        yield local.date()
