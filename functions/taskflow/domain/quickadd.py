"""Offline natural-language quick add: "buy milk tomorrow at 5pm every week p1 #groceries
remind me 30 min before" -> title, due, recurrence, priority, tags and reminders.

The grammar (specs/quick-add.md) is a small set of anchored patterns tried in a fixed order;
each recognised phrase is cut out of the text and what is left is the title. Calendar dates
written with month names or digits are read by dateparser; schedules are built as RRULEs and
checked with dateutil's rrule (through recurrence.py). Whatever could reasonably mean two things
is read one way AND reported in `ambiguities`, a list of sentences the chat shows the user.

Every date is computed on the user's local wall clock (`tz`) and a due never lands in the past
by accident: a weekday or a bare time rolls forward to its next occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from taskflow.domain import when
from taskflow.domain.errors import ValidationError
from taskflow.domain.model import Priority, Reminder, normalise_tags
from taskflow.domain.recurrence import (
    Recurrence,
    RecurrenceMode,
    first_due,
    from_wall_clock,
    local_wall_clock,
    parse_rule,
)

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "other": 2,
}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
PARTS_OF_DAY = {"morning": time(9), "afternoon": time(15), "evening": time(18), "night": time(20)}
# Zones whose users write month/day; everybody else is read day/month.
MONTH_FIRST_ZONES = ("America/", "US/", "Canada/")

_FULL_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_WEEKDAY = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?)\b"
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_NUMBER = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_ORDINAL_SUFFIX = r"(?:st|nd|rd|th)"
_TIME = (
    r"(?:(?:at|@)\s*)?(?:(?P<h>\d{1,2})(?:[:.](?P<m>[0-5]\d))?\s*(?P<ap>[ap])\.?m\.?\b"
    r"|(?P<h24>[01]?\d|2[0-3])[:h](?P<m24>[0-5]\d)\b"
    r"|(?P<named>noon|midday|midnight)\b)"
    r"|(?:at|@)\s*(?P<bare>[01]?\d|2[0-3])\b(?![:./]|\s*(?:%|" + _ORDINAL_SUFFIX + r"\b|[ap]\.?m))"
)
_DATE = (
    r"(?:(?:on|by|due|starting|from)\s+)?(?:"
    r"(?P<today>today)|(?P<tonight>tonight)"
    r"|this\s+(?P<this_part>morning|afternoon|evening)|in\s+the\s+(?P<in_part>morning|afternoon|evening)"
    r"|(?P<after_tomorrow>(?:the\s+)?day\s+after\s+tomorrow)"
    r"|(?P<tomorrow>tomorrow|tmrw|tmr)|(?P<yesterday>yesterday)"
    r"|in\s+(?P<in_n>" + _NUMBER + r")\s+(?P<in_unit>minutes?|mins?|hours?|hrs?|days?|weeks?"
    r"|fortnights?|months?|years?)"
    r"|(?P<next_week>next\s+week)|(?P<next_month>next\s+month)"
    r"|(?P<month_end>(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?month)"
    r"|(?P<weekend>(?:(?P<weekend_mod>this|the|next)\s+)?weekend)"
    r"|(?P<wd_mod>this|next|coming)\s+(?P<wd>" + _WEEKDAY + r")"
    # A weekday's full name, or a short one that is no English word ("tue", "thurs", "fri"); the
    # short ones that are words ("mon", "wed", "sat", "sun": "enjoy the sun") only before a time
    # ("sat 10am") or after on/by/due ("gym on sat").
    r"|(?P<wd_plain>" + _FULL_WEEKDAY + r"|tues?|thu(?:rs?)?|fri"
    r"|(?:mon|wed|sat|sun)(?=\s+(?:(?:at|@)\s*)?(?:\d|noon|midday)))"
    r"|(?:on|by|due)\s+(?P<wd_after_on>mon|wed|sat|sun)"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})"
    r"|(?P<numeric>\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{1,2}\.\d{1,2}\.\d{4})"
    r"|(?P<month_day>" + _MONTH + r"\s+\d{1,2}" + _ORDINAL_SUFFIX + r"?(?:,?\s+\d{4})?"
    r"|\d{1,2}" + _ORDINAL_SUFFIX + r"?\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+\d{4})?)"
    r"|(?:the\s+)(?P<nth>\d{1,2})" + _ORDINAL_SUFFIX + r"(?:\s+of\s+the\s+month)?"
    r")\b(?:\s+(?P<part>morning|afternoon|evening|night)\b)?"
)
_EVERY = r"\b(?:every|each)(?P<bang>!)?\s+"
# A weekday in a list of days, abbreviated or plural: "mon", "weds", "thurs", "mondays".
_LISTED_DAY = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?)s?\b"
)
# Between two days of a list: "mon, wed and fri", "mon wed fri", "tue/thu", "sat & sun".
_DAY_SEPARATOR = r"(?:\s*(?:,|and|&|\+|/)\s*(?:and\s+)?|\s+)"
_DAY_LIST = _LISTED_DAY + r"(?:" + _DAY_SEPARATOR + _LISTED_DAY + r")*"
# A part of the day after repeating days gives the time: "every sunday evening".
_PART_OF_DAY = r"(?:\s+(?P<part>morning|afternoon|evening|night)\b)?"
# A day of the month said alone: "the 15th", "the first", "the last (day)".
_DAY_OF_MONTH = (
    r"(?P<month_day>\d{1,2}" + _ORDINAL_SUFFIX + r"?|first|second|third|fourth|fifth|last)"
    r"(?:\s+day)?"
)
_OF_EVERY_MONTH = r"\s+of\s+(?:every|each)\s+month\b"


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


DATE_RE = _compile(r"(?<![\w#])" + _DATE)
UNTIL_RE = _compile(r"\buntil\s+" + _DATE)
TIME_RE = _compile(r"(?<![\w#:./])(?:" + _TIME + r")")
COUNT_RE = _compile(r"\b(?:for\s+)?(?P<count>\d{1,3})\s+(?:times|occurrences)\b")
TAG_RES = (_compile(r"(?<!\w)#(?P<tag>[\w\-/.]*[\w\-/])"), _compile(r"\btag\s+(?P<tag>[\w\-/]+)"))
PRIORITY_RES = (
    _compile(r"(?<![\w!])p(?P<level>[1-4])\b"),
    _compile(r"(?<!\w)!(?P<level>high|medium|med|low)\b"),
    _compile(r"\b(?P<level>high|medium|low)\s+priority\b"),
    _compile(r"\bpriority\s+(?P<level>high|medium|low)\b"),
)
REMIND_BEFORE_RE = _compile(
    r"\bremind\s+me\s+(?:(?P<n>" + _NUMBER + r")\s*(?P<unit>m|mins?|minutes?|h|hrs?|hours?"
    r"|days?|weeks?)|(?P<half>half\s+an\s+hour))\s+(?:before|earlier|ahead)\b"
)
REMIND_AT_RE = _compile(r"\bremind\s+me\s+(?=(?:at|@)\s*\d|\d|noon|midday)(?:" + _TIME + r")")
REMIND_BARE_RE = _compile(r"\bremind\s+me\b")
RECURRENCE_RES = (
    # "on the 15th of every month", "the last day of each month", "the 2nd friday of every month"
    _compile(
        r"(?<![\w#])(?:on\s+)?(?:the\s+)?(?P<ordinal>first|second|third|fourth|fifth|last|[1-5]"
        + _ORDINAL_SUFFIX
        + r")\s+(?P<ordinal_day>"
        + _WEEKDAY
        + r")"
        + _OF_EVERY_MONTH
    ),
    _compile(r"(?<![\w#])(?:on\s+)?(?:the\s+)?" + _DAY_OF_MONTH + _OF_EVERY_MONTH),
    _compile(
        _EVERY + r"(?P<ordinal>first|second|third|fourth|fifth|last|[1-5]" + _ORDINAL_SUFFIX + r")"
        r"\s+(?P<ordinal_day>" + _WEEKDAY + r")(?:\s+of\s+(?:the|every|each)\s+month\b)?"
    ),
    _compile(_EVERY + r"(?P<last_day>last\s+day)(?:\s+of\s+(?:the|every|each)\s+month)?\b"),
    _compile(
        _EVERY + r"(?P<month_day>\d{1,2})" + _ORDINAL_SUFFIX + r"\b"
        r"(?:\s+(?:day\s+)?of\s+(?:the|every|each)\s+month\b)?"
    ),
    _compile(_EVERY + r"(?P<workdays>weekday|workday|work\s+day)s?\b" + _PART_OF_DAY),
    _compile(_EVERY + r"(?P<weekends>weekend)s?\b" + _PART_OF_DAY),
    # Without "every", in the plural: "standup weekdays 9am", "lie in on weekends".
    _compile(
        r"(?<![\w#])(?:on\s+)?(?:(?P<workdays>weekdays|workdays)|(?P<weekends>weekends))\b"
        + _PART_OF_DAY
    ),
    _compile(_EVERY + r"(?P<days>" + _DAY_LIST + r")" + _PART_OF_DAY),
    # "every other tuesday", "every 3 mondays"
    _compile(
        _EVERY + r"(?P<n>" + _NUMBER + r"|other)\s+(?P<days>" + _DAY_LIST + r")" + _PART_OF_DAY
    ),
    # "every week on mon and thu", "weekly on tue/thu", "every 2 weeks on saturday",
    # "biweekly on wednesday"
    _compile(
        r"\b(?:every\s+(?:(?P<n>" + _NUMBER + r"|other)\s+)?weeks?|weekly"
        r"|(?P<fortnight>bi-?weekly|fortnightly))\s+on\s+(?P<days>"
        + _DAY_LIST
        + r")"
        + _PART_OF_DAY
    ),
    _compile(
        _EVERY + r"(?P<n>" + _NUMBER + r"|other)\s+(?P<unit>hour|day|week|fortnight|month"
        r"|quarter|year)s?\b"
    ),
    _compile(
        _EVERY + r"(?P<unit>hour|day|week|fortnight|month|quarter|year|morning|afternoon"
        r"|evening|night)\b"
    ),
    _compile(
        r"\b(?P<word>hourly|daily|weekly|bi-?weekly|fortnightly|monthly|quarterly|yearly"
        r"|annually)\b"
    ),
    # Without "every": two or more days in a row ("gym mon wed fri 7am", "tue/thu 18:30"), or
    # days said in the plural ("on mondays and thursdays", "on sundays") repeat weekly. One
    # singular day ("friday") stays a date.
    _compile(
        r"(?<![\w#])(?:on\s+)?(?P<days>"
        + _LISTED_DAY
        + r"(?:"
        + _DAY_SEPARATOR
        + _LISTED_DAY
        + r")+|"
        + _FULL_WEEKDAY
        + r"s\b(?:"
        + _DAY_SEPARATOR
        + _FULL_WEEKDAY
        + r"s\b)*)"
    ),
)
# Words in straight or typographic quotes; a single quote only where it is no apostrophe
# ("'fix bike' in 2 hours", not "mom's birthday").
QUOTED_RE = re.compile(
    r'"([^"]*)"|(?<!\w)\'([^\']+)\'(?!\w)|\u201c([^\u201d]*)\u201d|\u2018([^\u2019]*)\u2019'
)
# "every" left in the title once the repetition was read: a repetition not understood.
UNREAD_EVERY_RE = _compile(r"\bevery!?\s+[^\s,;]+")
# A unit of "every N <unit>": its RRULE frequency, and how many of that frequency it is.
STEP_OF_UNIT = {
    "hour": ("HOURLY", 1),
    "day": ("DAILY", 1),
    "week": ("WEEKLY", 1),
    "fortnight": ("WEEKLY", 2),
    "month": ("MONTHLY", 1),
    "quarter": ("MONTHLY", 3),
    "year": ("YEARLY", 1),
}
FREQUENCY_OF_WORD = {
    "hourly": "FREQ=HOURLY",
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "biweekly": "FREQ=WEEKLY;INTERVAL=2",
    "fortnightly": "FREQ=WEEKLY;INTERVAL=2",
    "monthly": "FREQ=MONTHLY",
    "quarterly": "FREQ=MONTHLY;INTERVAL=3",
    "yearly": "FREQ=YEARLY",
    "annually": "FREQ=YEARLY",
}
CONNECTORS_RE = _compile(r"^(?:\s*(?:(?:at|on|by|due|and|starting|from)\b|[,;:.\-]))+")
TRAILING_CONNECTORS_RE = _compile(r"(?:\s*\b(?:at|on|by|due|and|starting|from)\b|\s*[,;:\-])+$")


@dataclass
class QuickAdd:
    """What a quick-add sentence says; `ambiguities` are sentences for the user."""

    title: str
    due_at: datetime | None = None
    due_date: date | None = None
    priority: Priority = Priority.NONE
    tags: list[str] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)
    recurrence: Recurrence | None = None
    description: str = ""
    ambiguities: list[str] = field(default_factory=list)

    def as_command_fields(self) -> dict[str, Any]:
        """The same task as the JSON fields of a CreateTask command."""
        due = self.due_at.isoformat() if self.due_at else None
        return {
            "title": self.title,
            "description": self.description,
            "priority": self.priority.value,
            "tags": list(self.tags),
            "due": due or (self.due_date.isoformat() if self.due_date else None),
            "reminders": [
                {"at": r.at.isoformat()}
                if r.at
                else {"before_minutes": int(r.before.total_seconds() // 60)}  # type: ignore[union-attr]
                for r in self.reminders
            ],
            "recurrence": (
                {"rule": self.recurrence.rule, "mode": self.recurrence.mode.value}
                if self.recurrence
                else None
            ),
        }


def parse_quick_add(text: str, tz: ZoneInfo, *, now: datetime) -> QuickAdd:
    """Read a quick-add sentence in the user's zone `tz` at the moment `now`."""
    return _Parser(text, tz, now).parse()


def is_time_alone(text: str) -> bool:
    """ "5pm", "at 17:00", "noon": a time of day and nothing else (moving a task "to 5pm"
    keeps its day)."""
    return TIME_RE.fullmatch(text.strip()) is not None


def parse_when(text: str, tz: ZoneInfo, *, now: datetime) -> QuickAdd:
    """Read only a due ("friday at 5", "every monday"), e.g. to move a task: like
    `parse_quick_add`, but an empty title is expected and not reported."""
    return _Parser(text, tz, now, title_expected=False).parse()


@dataclass
class _DateHit:
    """A date phrase: a day, or an exact moment ("in 2 hours"), and how it may roll forward."""

    phrase: str
    day: date | None = None
    moment: datetime | None = None
    default_time: time | None = None
    roll: relativedelta | None = None  # step to the next candidate when it would be in the past


@dataclass
class _TimeHit:
    phrase: str
    value: time
    doubt: str | None = None  # the sentence for a time said without am/pm


class _Parser:
    def __init__(
        self, text: str, tz: ZoneInfo, now: datetime, *, title_expected: bool = True
    ) -> None:
        self.title_expected = title_expected
        self.tz = tz
        self.now = now.astimezone(UTC)
        self.local_now = local_wall_clock(now, tz)
        self.today = self.local_now.date()
        self.ambiguities: list[str] = []
        body, _, description = text.partition(" // ")
        self.description = description.strip()
        self.original = body.strip()
        # Quoted words are kept in the title verbatim: they are hidden behind private-use
        # characters that no pattern matches.
        self.quoted: list[str] = []
        self.rest = QUOTED_RE.sub(self._hide_quoted, body)

    # -- the pipeline ------------------------------------------------------------------------

    def parse(self) -> QuickAdd:
        tags = self._tags()
        priority = self._priority()
        reminder_phrases = self._reminder_phrases()
        rule, mode, rule_time = self._recurrence()
        date_hit = self._date()
        time_hit = self._time()
        due_at, due_date = self._due(date_hit, time_hit or rule_time, rule)
        recurrence = Recurrence(rule, mode=mode) if rule else None
        reminders = self._reminders(reminder_phrases, due_at, due_date)
        if rule is None:
            self._unread_every()
        return QuickAdd(
            title=self._title(),
            due_at=due_at,
            due_date=due_date,
            priority=priority,
            tags=tags,
            reminders=reminders,
            recurrence=recurrence,
            description=self.description,
            ambiguities=self.ambiguities,
        )

    def _hide_quoted(self, match: re.Match[str]) -> str:
        self.quoted.append(next(group for group in match.groups() if group is not None))
        return chr(0xE000 + len(self.quoted) - 1)

    def _cut(self, match: re.Match[str]) -> None:
        # Same-length blanks keep the positions of the other matches valid.
        blank = " " * (match.end() - match.start())
        self.rest = self.rest[: match.start()] + blank + self.rest[match.end() :]

    def _cut_all(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        matches = list(pattern.finditer(self.rest))
        for match in reversed(matches):
            self._cut(match)
        return matches

    # -- tags and priority -------------------------------------------------------------------

    def _tags(self) -> list[str]:
        found = [m for pattern in TAG_RES for m in self._cut_all(pattern)]
        found.sort(key=lambda m: m.start())
        tags: list[str] = []
        for match in found:
            try:
                tags = normalise_tags([*tags, match.group("tag")])
            except ValidationError as error:
                self.ambiguities.append(f"I left out '{match.group(0)}': {error.reason}.")
        return tags

    def _priority(self) -> Priority:
        found = [m for pattern in PRIORITY_RES for m in self._cut_all(pattern)]
        if not found:
            return Priority.NONE
        found.sort(key=lambda m: m.start())
        levels = [Priority.parse(_priority_word(m.group("level"))) for m in found]
        if len(set(levels)) > 1:
            said = ", ".join(m.group(0) for m in found)
            self.ambiguities.append(
                f"Several priorities were given ({said}); I used the first one: {levels[0].value}."
            )
        return levels[0]

    # -- reminders ---------------------------------------------------------------------------

    def _reminder_phrases(self) -> list[re.Match[str]]:
        found = self._cut_all(REMIND_BEFORE_RE) + self._cut_all(REMIND_AT_RE)
        found += self._cut_all(REMIND_BARE_RE)
        return sorted(found, key=lambda m: m.start())

    def _reminders(
        self, phrases: list[re.Match[str]], due_at: datetime | None, due_date: date | None
    ) -> list[Reminder]:
        reminders: list[Reminder] = []
        for match in phrases:
            phrase = match.group(0)
            if match.re is REMIND_AT_RE:
                reminder = self._reminder_at(match, due_at, due_date)
                if reminder:
                    reminders.append(reminder)
                continue
            if due_at is None and due_date is None:
                self.ambiguities.append(
                    f"'{phrase}' needs a due date to count from, and the task has none; "
                    "I left the reminder out."
                )
                continue
            reminders.append(Reminder(before=_reminder_offset(match)))
        return reminders

    def _reminder_at(
        self, match: re.Match[str], due_at: datetime | None, due_date: date | None
    ) -> Reminder | None:
        at_time, doubt = self._time_value(match)
        if doubt:
            self.ambiguities.append(doubt)
        if due_at is not None:
            day = local_wall_clock(due_at, self.tz).date()
        elif due_date is not None:
            day = due_date
        elif datetime.combine(self.today, at_time) > self.local_now:
            day = self.today
        else:
            day = self.today + timedelta(days=1)
        moment = from_wall_clock(datetime.combine(day, at_time), self.tz)
        if moment <= self.now:
            self.ambiguities.append(
                f"'{match.group(0)}' would be in the past ({_say_moment(moment, self.tz)}); "
                "I left the reminder out."
            )
            return None
        return Reminder(at=moment)

    # -- recurrence --------------------------------------------------------------------------

    def _recurrence(self) -> tuple[str | None, RecurrenceMode, _TimeHit | None]:
        """The RRULE said, its mode, and the time of day some phrases imply ("every morning")."""
        for pattern in RECURRENCE_RES:
            match = pattern.search(self.rest)
            if match:
                self._cut(match)
                break
        else:
            self._forget_orphan_ends()
            return None, RecurrenceMode.FROM_DUE, None
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        mode = RecurrenceMode.FROM_COMPLETION if groups.get("bang") else RecurrenceMode.FROM_DUE
        rule, implied_time = _rule_of(groups, match.group(0))
        rule += self._series_end()
        try:
            parse_rule(rule)
        except ValidationError as error:
            self.ambiguities.append(
                f"'{match.group(0).strip()}' is not a repetition I can use ({error.reason}); "
                "the task does not repeat."
            )
            return None, RecurrenceMode.FROM_DUE, None
        return rule, mode, implied_time

    def _series_end(self) -> str:
        until = UNTIL_RE.search(self.rest)
        count = COUNT_RE.search(self.rest)
        end = ""
        if until:
            hit = self._date_hit(until)
            if hit and (hit.day or hit.moment):
                last = hit.day or local_wall_clock(hit.moment, self.tz).date()  # type: ignore[arg-type]
                end = f";UNTIL={last:%Y%m%d}"
                self._cut(until)
                if last < self.today:
                    self.ambiguities.append(
                        f"'{until.group(0).strip()}' is in the past: the task will not repeat."
                    )
        if count:
            if end:
                self.ambiguities.append(
                    f"Both '{until.group(0)}' and '{count.group(0)}' end the series; "  # type: ignore[union-attr]
                    "I used the date."
                )
            else:
                end = f";COUNT={int(count.group('count'))}"
            self._cut(count)
        return end

    def _forget_orphan_ends(self) -> None:
        """'until' or 'N times' without any repetition: say so rather than drop it silently
        (and 'every ...' that was not understood, once the rest is read: `_unread_every`)."""
        for pattern in (UNTIL_RE, COUNT_RE):
            match = pattern.search(self.rest)
            if match:
                self.ambiguities.append(
                    f"'{match.group(0)}' ends a repetition, but no repetition was given; "
                    "I kept it in the title."
                )

    def _unread_every(self) -> None:
        """ "every" left over once everything else is read ("gym every blursday"): the user
        asked for a repetition the grammar does not know. Said, not silently dropped."""
        unread = UNREAD_EVERY_RE.search(self.rest)
        if unread:
            self.ambiguities.append(
                f"I did not understand '{unread.group(0).strip()}' as a repetition, so the task "
                "does not repeat and the words stay in the title; say for example 'every monday', "
                "'mon wed fri' or 'every 2 weeks'."
            )

    # -- due ---------------------------------------------------------------------------------

    def _date(self) -> _DateHit | None:
        matches = list(DATE_RE.finditer(self.rest))
        hits = [(m, hit) for m in matches if (hit := self._date_hit(m))]
        if not hits:
            return None
        # The last date phrase schedules the task ("plan friday party tomorrow").
        match, hit = hits[-1]
        self._cut(match)
        if len(hits) > 1:
            others = ", ".join(f"'{m.group(0).strip()}'" for m, _ in hits[:-1])
            self.ambiguities.append(
                f"More than one date was given; I used '{hit.phrase}' and kept {others} "
                "in the title."
            )
        return hit

    def _time(self) -> _TimeHit | None:
        matches = list(TIME_RE.finditer(self.rest))
        if not matches:
            return None
        match = matches[-1]
        if len(matches) > 1:
            others = ", ".join(f"'{m.group(0).strip()}'" for m in matches[:-1])
            self.ambiguities.append(
                f"More than one time was given; I used '{match.group(0).strip()}' and kept "
                f"{others} in the title."
            )
        self._cut(match)
        return _TimeHit(match.group(0).strip(), *self._time_value(match))

    def _due(
        self, hit: _DateHit | None, time_hit: _TimeHit | None, rule: str | None
    ) -> tuple[datetime | None, date | None]:
        if hit and hit.moment:
            if time_hit:
                self.ambiguities.append(
                    f"'{hit.phrase}' is already an exact time; I ignored '{time_hit.phrase}'."
                )
            return hit.moment, None
        at_time = self._settle_time(time_hit, hit) if time_hit else None
        at_time = at_time or (hit.default_time if hit else None)
        if hit is None:
            if rule:  # "every monday": the series starts at its first occurrence
                start = self._at(self.today, at_time) if at_time else self.today
                first = first_due(rule, start, self.tz, now=self.now)
                return _split_due(first)
            if time_hit is None:
                return None, None
            hit = _DateHit(time_hit.phrase, day=self.today, roll=relativedelta(days=1))
        assert hit.day is not None
        day = hit.day
        if hit.roll:
            while self._is_past(day, at_time):
                day += hit.roll
        elif self._is_past(day, at_time):
            said = f"{hit.phrase} {time_hit.phrase}" if time_hit else hit.phrase
            when = _say_moment(self._at(day, at_time), self.tz) if at_time else _say_day(day)
            self.ambiguities.append(f"'{said}' is in the past ({when}); I kept it.")
        return (self._at(day, at_time), None) if at_time else (None, day)

    def _settle_time(self, time_hit: _TimeHit, hit: _DateHit | None) -> time:
        """A time without am/pm next to a part of the day ("tonight at 9") takes its half."""
        part = hit.default_time if hit else None
        if time_hit.doubt is None:
            return time_hit.value
        if part is None:
            self.ambiguities.append(time_hit.doubt)
            return time_hit.value
        return time_hit.value.replace(
            hour=time_hit.value.hour % 12 + (12 if part.hour >= 12 else 0)
        )

    def _is_past(self, day: date, at_time: time | None) -> bool:
        if at_time is None:
            return day < self.today
        return self._at(day, at_time) <= self.now

    def _at(self, day: date, at_time: time) -> datetime:
        return from_wall_clock(datetime.combine(day, at_time), self.tz)

    def _date_hit(self, match: re.Match[str]) -> _DateHit | None:
        """What a DATE_RE / UNTIL_RE match means; None when it is not a real date."""
        g = match.groupdict()
        phrase = match.group(0).strip()
        part = PARTS_OF_DAY.get((g.get("part") or "").lower())
        hit = _DateHit(phrase, default_time=part)
        if g["today"]:
            hit.day = self.today
        elif g["tonight"]:
            hit.day, hit.default_time = self.today, PARTS_OF_DAY["night"]
        elif g["this_part"] or g["in_part"]:
            hit.day = self.today
            hit.default_time = PARTS_OF_DAY[(g["this_part"] or g["in_part"]).lower()]
            if g["in_part"]:  # "in the morning" said in the evening: tomorrow's
                hit.roll = relativedelta(days=1)
        elif g["tomorrow"]:
            hit.day = self.today + timedelta(days=1)
        elif g["after_tomorrow"]:
            hit.day = self.today + timedelta(days=2)
        elif g.get("yesterday"):
            hit.day = self.today - timedelta(days=1)  # pinned: kept, and reported as past
        elif g["in_n"]:
            return self._in_hit(phrase, _number(g["in_n"]), g["in_unit"].lower(), part)
        elif g["next_week"]:
            hit.day = self.today + timedelta(days=7 - self.today.weekday())
        elif g["next_month"]:
            hit.day = self.today.replace(day=1) + relativedelta(months=1)
        elif g["month_end"]:
            hit.day = self.today + relativedelta(day=31)  # relativedelta stops at the last day
        elif g["weekend"]:
            saturday = WEEKDAY_NAMES.index("Saturday")
            if (g["weekend_mod"] or "").lower() == "next" or self.today.weekday() < saturday:
                hit.day = self._named_day(saturday, g["weekend_mod"], phrase)
            else:  # said on the weekend itself
                hit.day = self.today
        elif g["wd"] or g["wd_plain"] or g["wd_after_on"]:
            word = (g["wd"] or g["wd_plain"] or g["wd_after_on"] or "").lower()
            weekday = [name.lower()[:3] for name in WEEKDAY_NAMES].index(word[:3])
            hit.day, hit.roll = (
                self._named_day(weekday, g["wd_mod"], phrase),
                relativedelta(weeks=1),
            )
        elif g["iso"]:
            try:
                hit.day = date.fromisoformat(g["iso"])
            except ValueError:
                self._not_a_date(phrase)
                return None
        elif g["numeric"]:
            hit.day = self._numeric_day(g["numeric"])
        elif g["month_day"]:
            hit.day = self._month_day(g["month_day"])
        elif g["nth"]:
            hit.day = self._nth_day(int(g["nth"]))
            hit.roll = relativedelta(months=1)
        if hit.day is None:
            self._not_a_date(phrase)
            return None
        return hit

    def _in_hit(self, phrase: str, n: int, unit: str, part: time | None) -> _DateHit:
        if unit.startswith(("m", "h")) and not unit.startswith("mo"):
            minutes = n * 60 if unit.startswith("h") else n
            return _DateHit(phrase, moment=self.now + timedelta(minutes=minutes))
        step = {
            "d": relativedelta(days=n),
            "w": relativedelta(weeks=n),
            "f": relativedelta(weeks=2 * n),
        }.get(unit[0])
        if step is None:
            step = relativedelta(months=n) if unit.startswith("mo") else relativedelta(years=n)
        return _DateHit(phrase, day=self.today + step, default_time=part)

    def _not_a_date(self, phrase: str) -> None:
        self.ambiguities.append(f"'{phrase}' is not a real date; I kept it in the title.")

    def _next_weekday(self, weekday: int, *, include_today: bool) -> date:
        ahead = (weekday - self.today.weekday()) % 7
        if ahead == 0 and not include_today:
            ahead = 7
        return self.today + timedelta(days=ahead)

    def _named_day(self, weekday: int, modifier: str | None, phrase: str) -> date:
        """The day a weekday phrase names; "next X" within this week is reported."""
        if (modifier or "").lower() != "next":
            return self._next_weekday(weekday, include_today=True)
        day = self._next_weekday(weekday, include_today=False)
        this_week_ends = self.today + timedelta(days=6 - self.today.weekday())
        if day <= this_week_ends:
            later = day + timedelta(days=7)
            self.ambiguities.append(
                f"'{phrase}' could mean {_say_day(day)} or {_say_day(later)}; "
                f"I chose {_say_day(day)}, the first one."
            )
        return day

    def _numeric_day(self, text: str) -> date | None:
        first, second = (int(n) for n in re.split(r"[/.]", text)[:2])
        month_first = self.tz.key.startswith(MONTH_FIRST_ZONES)
        day = _dateparser_day(text, self.local_now, "MDY" if month_first else "DMY")
        if day is None and first <= 12 < second:  # "12/20" in Europe: only month/day is a date
            day = _dateparser_day(text, self.local_now, "MDY")
            if day:
                self.ambiguities.append(
                    f"'{text}' is no date as day/month; I read it as {_say_day(day)} (month/day)."
                )
            return day
        if day and first <= 12 and second <= 12 and first != second:
            order = "month/day" if month_first else "day/month"
            other = date(2000, day.day, day.month)  # the other reading, for its name only
            self.ambiguities.append(
                f"'{text}' could be read either way; I read it as {_say_day(day)} ({order}), "
                f"not {other.day} {other:%B}. Write {day.isoformat()} to be sure."
            )
        return day

    def _month_day(self, text: str) -> date | None:
        return _dateparser_day(text, self.local_now, "DMY")

    def _nth_day(self, nth: int) -> date | None:
        if not 1 <= nth <= 31:
            return None
        month = self.today.replace(day=1)
        for _ in range(12):
            try:
                candidate = month.replace(day=nth)
            except ValueError:  # this month has no 31st: the next one that has it
                month += relativedelta(months=1)
                continue
            if candidate >= self.today:
                return candidate
            month += relativedelta(months=1)
        return None

    def _time_value(self, match: re.Match[str]) -> tuple[time, str | None]:
        """The time a TIME match says, and a sentence when it had no am/pm."""
        g = match.groupdict()
        if g.get("named"):
            return (time(0) if g["named"].lower() == "midnight" else time(12)), None
        if g.get("h24"):
            hour = int(g["h24"])
            if len(g["h24"]) == 1 and 1 <= hour <= 7:  # "at 3:30": as "at 3", and said
                chosen, other = time(hour + 12, int(g["m24"])), time(hour, int(g["m24"]))
                return chosen, (
                    f"'{match.group(0).strip()}' has no am/pm; I read it as {chosen:%H:%M}, "
                    f"not {other:%H:%M}."
                )
            return time(hour, int(g["m24"])), None
        if g.get("h"):
            hour = int(g["h"]) % 12 + (12 if g["ap"].lower() == "p" else 0)
            if int(g["h"]) > 12:  # "17pm": the am/pm is noise
                hour = int(g["h"]) % 24
            return time(hour, int(g["m"] or 0)), None
        hour = int(g["bare"])
        if hour == 0 or hour >= 12:
            return time(hour % 24), None
        # No am/pm: 1-7 are read as afternoon and evening, 8-11 as morning, which is how
        # people book their chores; and the user hears about it.
        chosen = time(hour + 12) if hour <= 7 else time(hour)
        other = time(hour) if hour <= 7 else time(hour + 12)
        return chosen, (
            f"'{match.group(0).strip()}' has no am/pm; I read it as {chosen:%H:%M}, "
            f"not {other:%H:%M}."
        )

    # -- title -------------------------------------------------------------------------------

    def _title(self) -> str:
        title = re.sub(r"\s+", " ", self.rest).strip()
        title = TRAILING_CONNECTORS_RE.sub("", CONNECTORS_RE.sub("", title)).strip()
        title = re.sub(r"[\uE000-\uF8FF]", lambda m: self.quoted[ord(m.group(0)) - 0xE000], title)
        if not title and not self.title_expected:
            return ""
        if not title:
            self.ambiguities.append(
                "Nothing was left for the title once the date and options were read; "
                "I used the whole text."
            )
            return re.sub(r"\s+", " ", self.original.replace('"', "")).strip()
        return title


def _priority_word(level: str) -> str:
    level = level.lower()
    return {"med": "medium"}.get(level, level if not level.isdigit() else f"p{level}")


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word.lower()]


def _reminder_offset(match: re.Match[str]) -> timedelta:
    g = match.groupdict()
    if g.get("half"):
        return timedelta(minutes=30)
    if not g.get("n"):  # a bare "remind me": at the due
        return timedelta(0)
    n, unit = _number(g["n"]), g["unit"].lower()
    if unit.startswith("w"):
        return timedelta(weeks=n)
    if unit.startswith("d"):
        return timedelta(days=n)
    if unit.startswith("h"):
        return timedelta(hours=n)
    return timedelta(minutes=n)


def _rule_of(groups: dict[str, str], phrase: str) -> tuple[str, _TimeHit | None]:
    if "ordinal" in groups:
        ordinal = groups["ordinal"].lower()
        position = ORDINALS.get(ordinal) or int(ordinal[0])
        code = _weekday_code(groups["ordinal_day"])
        return f"FREQ=MONTHLY;BYDAY={position:+d}{code}", None
    if "last_day" in groups:
        return "FREQ=MONTHLY;BYMONTHDAY=-1", None
    if "month_day" in groups:
        return f"FREQ=MONTHLY;BYMONTHDAY={_day_of_month(groups['month_day'])}", None
    part = PARTS_OF_DAY.get(groups.get("part", "").lower())
    implied = _TimeHit(groups["part"], part) if part else None
    if "workdays" in groups:
        return "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", implied
    if "weekends" in groups:
        return "FREQ=WEEKLY;BYDAY=SA,SU", implied
    if "days" in groups:
        words = re.findall(_LISTED_DAY, groups["days"], re.IGNORECASE)
        codes = sorted({_weekday_code(w) for w in words}, key=WEEKDAY_CODES.index)
        interval = 2 if "fortnight" in groups else _number(groups.get("n", "1"))
        return _with_interval("FREQ=WEEKLY", interval) + f";BYDAY={','.join(codes)}", implied
    if "word" in groups:
        return FREQUENCY_OF_WORD[groups["word"].lower().replace("-", "")], None
    unit = groups["unit"].lower()
    if unit in PARTS_OF_DAY:
        return "FREQ=DAILY", _TimeHit(phrase, PARTS_OF_DAY[unit])
    frequency, multiple = STEP_OF_UNIT[unit]
    interval = multiple * (_number(groups["n"]) if "n" in groups else 1)
    return _with_interval(f"FREQ={frequency}", interval), None


def _with_interval(rule: str, interval: int) -> str:
    return rule + f";INTERVAL={interval}" if interval != 1 else rule


def _day_of_month(word: str) -> int:
    """ "15th" -> 15, "first" -> 1, "last" -> -1 (BYMONTHDAY counts back from the end)."""
    digits = re.match(r"\d+", word)
    return int(digits.group(0)) if digits else ORDINALS[word.lower()]


def _weekday_code(word: str) -> str:
    return WEEKDAY_CODES[[n.lower()[:3] for n in WEEKDAY_NAMES].index(word.lower()[:3])]


def _dateparser_day(text: str, local_now: datetime, order: str) -> date | None:
    import dateparser  # slow to import (~0.3 s): only when a sentence has a calendar date

    settings = {
        "PREFER_DATES_FROM": "future",
        # dateparser counts today as past when PREFER_DATES_FROM is future: a base of yesterday
        # noon makes "nov 24" said on Nov 24 mean today, not next year.
        "RELATIVE_BASE": datetime.combine(local_now.date() - timedelta(days=1), time(12)),
        "DATE_ORDER": order,
        "REQUIRE_PARTS": ["day", "month"],
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    parsed = dateparser.parse(text, languages=["en"], settings=settings)  # type: ignore[arg-type]
    return parsed.date() if parsed else None


def _split_due(due: date | None) -> tuple[datetime | None, date | None]:
    if isinstance(due, datetime):
        return due, None
    return None, due


def _say_day(day: date) -> str:
    # With the year always: a note explains how an ambiguous phrase was read.
    return when.say_day(day)


def _say_moment(moment: datetime, tz: ZoneInfo) -> str:
    return when.say_moment(moment, tz)
