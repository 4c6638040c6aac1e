"""The offline assistant's grammar: one chat message in, one Intent out. Pure: no I/O, no dates.

The grammar is a short list of anchored patterns, tried in order. A message that matches none of
them, or that leaves words the grammar does not know in a listing request, is NotUnderstood: the
assistant says so instead of guessing (see specs/chat.md, "Offline grammar").
"""

# ruff: noqa: RUF001  (Urdu text: its full stop and question mark are meant, not look-alikes)

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from taskflow.chat.phrases import Language

# --- intents -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRef:
    """The task a message means: by id ("task 3") or by title words ("the meeting task")."""

    task_id: int | None = None
    words: str = ""
    focus: bool = False  # "it", "that one": the task the conversation is about


@dataclass(frozen=True)
class AddTask:
    text: str  # quick-add text: title plus any due, priority, tags, reminders, recurrence
    remind_at_due: bool = False  # "remind me to ..." means a reminder when it is due


@dataclass(frozen=True)
class ListTasks:
    filters: dict[str, Any] = field(default_factory=dict)  # list_tasks tool arguments


@dataclass(frozen=True)
class ActOnTask:
    action: str  # a tool name: complete_task, uncomplete_task, delete_task, ...
    ref: TaskRef
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActOnMany:
    """One action on every task a listing names: "delete all completed tasks"."""

    action: str  # complete_task or delete_task
    filters: dict[str, Any] = field(default_factory=dict)  # list_tasks arguments
    task_ids: tuple[int, ...] = ()  # "delete tasks 3 and 4": these, instead of a listing


@dataclass(frozen=True)
class ChangeTask:
    ref: TaskRef
    text: str = ""  # new quick-add text, or the literal new title when `literal`
    literal: bool = False
    priority: str | None = None
    due_text: str | None = None  # "move task 2 to friday": only the due changes
    # "remind me about it 2 hours before": one more reminder, this many minutes before the due
    reminder_minutes: int | None = None
    # "push it by a day": the due moves this many minutes later (earlier when negative)
    shift_minutes: int | None = None
    # "tag the dentist with #health", "remove #work from it", "untag it" (every tag)
    tags_added: tuple[str, ...] = ()
    tags_removed: tuple[str, ...] = ()
    untag_all: bool = False
    clear_reminders: bool = False  # "remove the reminders from the dentist"
    # "remind me about task 3 in 10 minutes": one more reminder at now + this many minutes
    reminder_in_minutes: int | None = None
    description: str | None = None  # "set the notes of task 3 to ...": the new description
    note: str | None = None  # "add a note to task 3: ...": a line added to the description
    clear_due: bool = False  # "remove the due date from the dentist"


@dataclass(frozen=True)
class ShowTask:
    """One task in full: "show task 3", "tell me about the dentist"."""

    ref: TaskRef


@dataclass(frozen=True)
class Undo:
    """Reverse the assistant's last change in this conversation."""


@dataclass(frozen=True)
class Help:
    greeting: bool = False  # "hi": a hello before the examples


@dataclass(frozen=True)
class Thanks:
    pass


@dataclass(frozen=True)
class NotUnderstood:
    message: str


Intent = (
    AddTask
    | ListTasks
    | ShowTask
    | ActOnTask
    | ActOnMany
    | ChangeTask
    | Undo
    | Help
    | Thanks
    | NotUnderstood
)

# --- references to a task ---------------------------------------------------------------------

_ID_REF = re.compile(r"^(?:the\s+)?(?:task|todo|item|number|no\.?|کام|ٹاسک|نمبر)?\s*#?(\d+)$")
_REF_NOISE = re.compile(
    r"\b(?:the|my|a|an|that|this|task|tasks|todo|to-do|item|one|called|named|about|"
    r"کام|ٹاسک|والا|والی|والے)\b"
)


# Words that point at the task in focus rather than name one (English, Roman Urdu, Urdu).
_FOCUS_REF = re.compile(
    r"^(?:it|its|that|this|that\s+one|this\s+one|that\s+task|this\s+task|the\s+last\s+one|"
    r"ye|yeh|ise|isay|isko|is\s+ko|woh|wo|use|usay|usko|us\s+ko|"
    r"یہ|اسے|اس\s+کو|اسکو|وہ|اُسے|یہ\s+کام|وہ\s+کام)$",
    re.I,
)


def parse_ref(text: str) -> TaskRef | None:
    text = text.strip().strip("'\"").strip()
    if _FOCUS_REF.match(text):
        return TaskRef(focus=True)
    if match := _ID_REF.match(text):
        return TaskRef(task_id=int(match.group(1)))
    words = " ".join(_REF_NOISE.sub(" ", text).split())
    words = words.strip("'\"").strip()
    return TaskRef(words=words) if words else None


# --- priorities -------------------------------------------------------------------------------

_PRIORITY_WORD = r"(?P<priority>high|medium|low|none|urgent|important|p[1-4])"
_PRIORITY_ALIASES = {"urgent": "high", "important": "high"}


def _priority(word: str) -> str:
    word = word.lower()
    return _PRIORITY_ALIASES.get(word, word)


# --- the grammar --------------------------------------------------------------------------------

_POLITE = re.compile(r"^(?:please|pls|hey|hi|ok|okay|can you|could you|would you)[\s,]+", re.I)

_ADD_PATTERNS = [
    re.compile(
        r"^(?:add|create|make|new|put)\s+(?:a\s+|an\s+|another\s+)?(?:new\s+)?"
        r"(?:task|todo|to-do|item|reminder)?\s*(?:to\s+my\s+list\s+)?"
        r"(?:to|:|called|named|saying|for)?\s*(?P<text>.+?)"
        r"(?:\s+(?:to|on)\s+(?:my|the)\s+(?:list|to-?do\s+list|tasks))?$",
        re.I,
    ),
    re.compile(
        r"^(?:i\s+)?(?:need|have|must|should|want|got)\s+(?:to\s+)?"
        r"(?:remember\s+to\s+)?(?P<text>.+)$",
        re.I,
    ),
    re.compile(r"^(?:remember|don'?t\s+forget|do\s+not\s+forget)\s+to\s+(?P<text>.+)$", re.I),
    re.compile(r"^todo:\s*(?P<text>.+)$", re.I),
]
_REMIND_ME = re.compile(r"^remind\s+me\s+to\s+(?P<text>.+)$", re.I)
# The when before the what: "remind me tomorrow at 9 to call mom", "remind me in 30 minutes to
# check the oven", "set a reminder for friday 5pm to pay rent".
_WHEN_FIRST = (
    r"(?P<when>(?:tomorrow|today|tonight|in|at|on|next|this|every|by|monday|tuesday|wednesday"
    r"|thursday|friday|saturday|sunday|\d)\b.*?)\s+to\s+(?P<text>.+)$"
)
_REMIND_ME_WHEN_FIRST = [
    re.compile(r"^remind\s+me\s+" + _WHEN_FIRST, re.I),
    re.compile(r"^(?:set|add|create)\s+(?:a\s+)?reminder\s+(?:for\s+)?" + _WHEN_FIRST, re.I),
]

_REF = r"(?P<ref>.+?)"
_ACTION_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^stop\s+repeating\s+{_REF}$", re.I), "stop_repeating"),
    (
        re.compile(rf"^(?:make\s+)?{_REF}\s+(?:stop\s+repeating|not\s+repeat)$", re.I),
        "stop_repeating",
    ),
    (
        re.compile(
            rf"^skip\s+(?:the\s+next\s+occurrence\s+of\s+|this\s+occurrence\s+of\s+)?{_REF}$", re.I
        ),
        "skip_occurrence",
    ),
    (
        re.compile(
            rf"^(?:mark|set)\s+{_REF}\s+(?:as\s+)?(?:not\s+done|not\s+complete[d]?|incomplete|"
            r"undone|pending|open)$",
            re.I,
        ),
        "uncomplete_task",
    ),
    (
        re.compile(rf"^(?:uncomplete|reopen|undo|unmark|uncheck|untick)\s+{_REF}$", re.I),
        "uncomplete_task",
    ),
    (
        re.compile(rf"^(?:mark|set)\s+{_REF}\s+(?:as\s+)?(?:complete[d]?|done|finished)$", re.I),
        "complete_task",
    ),
    (
        re.compile(rf"^(?:complete|finish|check\s+off|tick\s+off|close)\s+{_REF}$", re.I),
        "complete_task",
    ),
    (
        re.compile(rf"^(?:i(?:\s+have|'ve)?\s+(?:finished|completed|done))\s+{_REF}$", re.I),
        "complete_task",
    ),
    (re.compile(rf"^(?:i'?m\s+|i\s+am\s+)?done\s+with\s+{_REF}$", re.I), "complete_task"),
    (re.compile(rf"^{_REF}\s+is\s+(?:done|complete[d]?|finished)$", re.I), "complete_task"),
    (re.compile(rf"^(?:delete|remove|cancel|drop|trash|erase)\s+{_REF}$", re.I), "delete_task"),
]
# "delete all completed tasks", "clear completed", "complete all tasks due today", "mark all
# overdue tasks as done": the words after "all" are a listing request (_list_filters).
_MANY: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"^(?:delete|remove|clear|erase|trash)\s+(?:all|every)\b\s*(?:of\s+)?(?P<what>.*)$",
            re.I,
        ),
        "delete_task",
    ),
    (
        re.compile(
            r"^clear\s+(?P<what>(?:the\s+)?(?:completed|done|finished)(?:\s+tasks)?)$", re.I
        ),
        "delete_task",
    ),
    (
        re.compile(
            r"^(?:complete|finish|check\s+off|tick\s+off)\s+(?:all|every(?:thing)?)\s*(?:of\s+)?"
            r"(?P<what>.*)$",
            re.I,
        ),
        "complete_task",
    ),
    (
        re.compile(
            r"^mark\s+(?:all|every(?:thing)?)\s*(?:of\s+)?(?P<what>.*?)\s*as\s+"
            r"(?:done|complete[d]?|finished)$",
            re.I,
        ),
        "complete_task",
    ),
]
_SNOOZE = re.compile(
    rf"^snooze\s+(?:the\s+reminder\s+(?:for|of|on)\s+)?{_REF}(?:'s)?(?:\s+reminders?)?"
    r"(?:\s+(?:for|by)\s+(?P<amount>\d+)\s*(?P<unit>m|mins?|minutes?|h|hrs?|hours?))?$",
    re.I,
)
# "snooze" alone, "snooze it", "snooze for 30 minutes": the task in focus (the one whose
# reminder just came, or the one the conversation is about).
_BARE_SNOOZE = re.compile(
    r"^snooze(?:\s+(?:it|that|this))?"
    r"(?:\s+(?:for|by)\s+(?P<amount>\d+)\s*(?P<unit>m|mins?|minutes?|h|hrs?|hours?))?$",
    re.I,
)
# One more reminder on an existing task: "remind me about the dentist 2 hours before",
# "remind me 1 day before" (the task in focus), "set a reminder for task 3 30 minutes before".
_BEFORE = (
    r"\s+(?P<amount>\d+|an?|one)\s*(?P<unit>m|mins?|minutes?|h|hrs?|hours?|days?|weeks?)"
    r"\s+(?:before|earlier|ahead)$"
)
_ADD_REMINDER = [
    re.compile(rf"^remind\s+me(?:\s+(?:about|of)\s+{_REF})?{_BEFORE}", re.I),
    re.compile(rf"^(?:set|add|create)\s+(?:a\s+)?reminder\s+(?:for|on|to)\s+{_REF}{_BEFORE}", re.I),
]
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 1440, "w": 10080}
# "remind me about task 3 in 10 minutes", "remind me of it in an hour"
_REMIND_IN = re.compile(
    rf"^remind\s+me\s+(?:about|of)\s+{_REF}\s+in\s+(?P<amount>\d+|an?|one)\s*"
    r"(?P<unit>m|mins?|minutes?|h|hrs?|hours?|days?)$",
    re.I,
)
_SHIFT = re.compile(
    rf"^(?P<verb>push|postpone|delay|defer|move|shift|bring\s+forward|pull\s+forward)\s+{_REF}"
    # "push it back a day" and "push it back by a day" both say later; "forward" needs "by".
    r"\s+(?:(?:back|out)\s+(?:by\s+)?|forward\s+by\s+|by\s+)(?P<amount>\d+|an?|one)\s*"
    r"(?P<unit>m|mins?|minutes?|h|hrs?|hours?|days?|weeks?)(?P<earlier>\s+earlier)?$",
    re.I,
)
_SET_PRIORITY = [
    re.compile(
        rf"^(?:set|change|make|mark)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+{_REF}\s+"
        rf"(?:to|as)\s+{_PRIORITY_WORD}(?:\s+priority)?$",
        re.I,
    ),
    re.compile(
        rf"^(?:set|change|make|mark)\s+{_REF}(?:'s)?\s+priority\s+(?:to\s+|as\s+)?"
        rf"{_PRIORITY_WORD}$",
        re.I,
    ),
    re.compile(rf"^(?:make|mark|set)\s+{_REF}\s+(?:as\s+)?{_PRIORITY_WORD}(?:\s+priority)?$", re.I),
    re.compile(rf"^(?:prioritise|prioritize)\s+{_REF}$", re.I),
]
# The due, the tags and the reminders of a task, named as such: "change the due date of the
# report to monday", "tag the dentist with #health", "remove the reminder from the dentist".
_DUE_WORDS = r"(?:the\s+)?(?:due\s+date|due\s+time|due|deadline|date)"
_SET_DUE = [
    re.compile(
        rf"^(?:change|set|update|move|make|push)\s+{_DUE_WORDS}\s+(?:of|for|on)\s+{_REF}\s+"
        r"(?:to|as|for|until)\s+(?P<when>.+)$",
        re.I,
    ),
    # With "to" only, and no "make" or "move": "make dinner date tomorrow" adds a task, and
    # "move dinner date to friday" moves the task called so.
    re.compile(
        rf"^(?:change|set|update)\s+{_REF}(?:'s)?\s+{_DUE_WORDS}\s+to\s+(?P<when>.+)$", re.I
    ),
]
_CLEAR_DUE = re.compile(
    rf"^(?:remove|clear|delete|drop|take\s+off)\s+{_DUE_WORDS}\s+(?:from|of|on|for|off)\s+{_REF}$",
    re.I,
)
_CLEAR_REMINDERS = [
    re.compile(
        r"^(?:remove|clear|delete|cancel|drop|turn\s+off|switch\s+off|stop)\s+"
        rf"(?:the\s+|all\s+(?:the\s+)?)?reminders?\s+(?:from|for|on|of|about)\s+{_REF}$",
        re.I,
    ),
    re.compile(
        rf"^(?:don'?t|do\s+not|never)\s+remind\s+me\s+(?:about|of)\s+{_REF}$",
        re.I,
    ),
    re.compile(rf"^stop\s+reminding\s+me\s+(?:about|of)\s+{_REF}$", re.I),
    re.compile(rf"^no\s+(?:more\s+)?reminders?\s+(?:for|on|about)\s+{_REF}$", re.I),
]
_TAG_LIST = r"(?P<tags>#?[\w-]+(?:\s*(?:,|and|&)\s*#?[\w-]+)*)"
_HASHTAG_LIST = r"(?P<tags>#[\w-]+(?:\s*(?:,|and|&)?\s*#[\w-]+)*)"
_ADD_TAGS = [
    re.compile(rf"^tag\s+{_REF}\s+(?:with|as)\s+{_TAG_LIST}$", re.I),
    re.compile(rf"^(?:add|put)\s+(?:the\s+)?tags?\s+{_TAG_LIST}\s+(?:to|on)\s+{_REF}$", re.I),
    re.compile(rf"^(?:add|put)\s+{_HASHTAG_LIST}\s+(?:to|on)\s+{_REF}$", re.I),
]
_REMOVE_TAGS = [
    re.compile(
        rf"^(?:remove|delete|drop|take\s+off)\s+(?:the\s+)?tags?\s+{_TAG_LIST}\s+(?:from|on|off)\s+"
        rf"{_REF}$",
        re.I,
    ),
    re.compile(rf"^(?:remove|delete|drop|take)\s+{_HASHTAG_LIST}\s+(?:from|off)\s+{_REF}$", re.I),
    re.compile(rf"^untag\s+{_REF}\s+{_HASHTAG_LIST}$", re.I),
]
_UNTAG_ALL = [
    re.compile(rf"^untag\s+{_REF}$", re.I),
    re.compile(
        rf"^(?:remove|clear|delete|drop)\s+(?:all\s+)?(?:the\s+)?tags\s+(?:from|on|of)\s+{_REF}$",
        re.I,
    ),
]
# "add #work to my list" is a task to add, not a tag on a task called "my list".
_THE_LIST = re.compile(r"^(?:my|the|your)\s+(?:list|tasks|todos?|to-do\s+list)$", re.I)


def _unquoted(text: str) -> str:
    text = text.strip()
    quoted = _QUOTED.match(text)
    return next(group for group in quoted.groups() if group) if quoted else text


def _tag_words(text: str) -> tuple[str, ...]:
    return tuple(
        word.lstrip("#").lower() for word in re.split(r"\s*(?:,|\band\b|&|\s)\s*", text) if word
    )


_RESCHEDULE = re.compile(
    rf"^(?:move|reschedule|postpone|push|defer|delay)\s+{_REF}\s+(?:to|until|till|for)\s+"
    r"(?P<when>.+)$",
    re.I,
)
# The title or the notes, named: the words after "to" are taken as they are (no dates read).
_RENAME = [
    re.compile(
        rf"^(?:change|set|update|edit)\s+(?:the\s+)?(?:title|name)\s+(?:of|for|on)\s+{_REF}\s+"
        r"to\s+(?P<text>.+)$",
        re.I,
    ),
    re.compile(rf"^rename\s+{_REF}\s+(?:to|as|into)\s+(?P<text>.+)$", re.I),
]
_NOTES = r"(?:description|notes?|details)"
_SET_NOTES = [
    re.compile(
        rf"^(?:change|set|update|edit)\s+(?:the\s+)?{_NOTES}\s+(?:of|for|on)\s+{_REF}\s+"
        r"to\s+(?P<text>.+)$",
        re.I,
    ),
    re.compile(
        rf"^(?:change|set|update|edit)\s+{_REF}(?:'s)?\s+{_NOTES}\s+to\s+(?P<text>.+)$", re.I
    ),
]
_ADD_NOTE = re.compile(
    rf"^(?:add|put|write)\s+(?:a\s+|the\s+)?{_NOTES}\s+(?:to|on|for)\s+{_REF}\s*:\s*(?P<text>.+)$",
    re.I,
)
_MANY_ID_ACTIONS = {
    "complete": "complete_task",
    "finish": "complete_task",
    "delete": "delete_task",
    "remove": "delete_task",
}
_MANY_IDS = re.compile(
    r"^(?P<verb>complete|finish|delete|remove)\s+(?:tasks?\s+)?"
    r"(?P<ids>#?\d+(?:\s*(?:,|and|&)\s*#?\d+)+)$",
    re.I,
)
_CHANGE = re.compile(
    rf"^(?:change|update|rename|edit|modify|set)\s+{_REF}\s+(?:to|into|as|so\s+it\s+says)\s+"
    r"(?P<text>.+)$",
    re.I,
)
# Straight or typographic quotes around a new title: "..." '...' \u201c...\u201d \u2018...\u2019
_QUOTED = re.compile(
    r"""^(?:"(?P<d>[^"]+)"|'(?P<s>[^']+)'|\u201c(?P<q>[^\u201d]+)\u201d|\u2018(?P<t>[^\u2019]+)\u2019)$"""
)
# By its id after a listing verb ("show task 3": "show overdue" stays a listing), or by any
# reference after words that only ever mean one task.
_SHOW_TASK = [
    re.compile(
        r"^(?:show|open|view|display|what'?s|what\s+is)\s+(?:me\s+)?"
        r"(?P<ref>(?:task|todo|item|number)\s*#?\d+)$",
        re.I,
    ),
    re.compile(
        r"^(?:(?:show\s+(?:me\s+)?)?(?:the\s+)?details\s+(?:of|for|on|about)|"
        rf"tell\s+me\s+(?:more\s+)?about|describe)\s+{_REF}$",
        re.I,
    ),
]
_UNDO = re.compile(
    r"^(?:undo|undo\s+(?:that|it|this|the\s+last\s+(?:change|one|thing))|revert(?:\s+that)?|"
    r"take\s+(?:that|it)\s+back|undo\s+karo|wapas\s+karo|wapis\s+karo)$",
    re.I,
)
# "done" on its own, or "it's done": the task in focus is finished.
_BARE_DONE = re.compile(
    r"^(?:done|finished|completed|all\s+done|it'?s\s+done|it\s+is\s+done|"
    r"ho\s+gaya|ho\s+gya|hogaya|ho\s+gayi|kar\s+liya|kar\s+lia)$",
    re.I,
)

# --- Roman Urdu: add, show, done, delete -----------------------------------------------------

_RU_VERB_TAIL = r"(?:karo|kar\s+do|kardo|karen|karein|kar\s+dein|kar\s+dijiye|kijiye)"
_RU_ADD = re.compile(
    rf"^(?P<text>.+?)\s+(?:add|shamil|darj|list\s+mein\s+daal|likh)\s+(?:{_RU_VERB_TAIL}|lo|do)$",
    re.I,
)
_RU_ADD_FIRST = re.compile(
    r"^(?:add\s+karo|yaad\s+rakho|likh\s+lo|yaad\s+dilana)[:\s]+(?P<text>.+)$", re.I
)
_RU_SHOW = re.compile(
    r"^(?P<what>.*?)\s*(?:dikhao|dikha\s+do|dikhaiye|dikhayen|batao|bata\s+do|bataiye)$", re.I
)
_RU_DONE = re.compile(
    rf"^{_REF}\s+(?:ho\s+gaya|ho\s+gya|hogaya|ho\s+gayi|mukammal\s+(?:ho\s+gaya|{_RU_VERB_TAIL})|"
    rf"khatam\s+(?:ho\s+gaya|{_RU_VERB_TAIL})|done\s+{_RU_VERB_TAIL}|complete\s+{_RU_VERB_TAIL}|"
    rf"poora\s+(?:ho\s+gaya|{_RU_VERB_TAIL}))$",
    re.I,
)
_RU_DELETE = re.compile(
    rf"^{_REF}\s+(?:delete\s+{_RU_VERB_TAIL}|remove\s+{_RU_VERB_TAIL}|mita\s+do|mitao|"
    r"hata\s+do|hatao|nikal\s+do|nikalo)$",
    re.I,
)
# Roman Urdu words of a "show" request, as the English grammar's words (or nothing).
_RU_LIST_WORDS = {
    "aaj": "today",
    "aj": "today",
    "mukammal": "completed",
    "khatam": "completed",
    "baqi": "pending",
    "baaki": "pending",
    "baki": "pending",
    "overdue": "overdue",
    "late": "overdue",
    "zaroori": "urgent",
    "is": "",
    "hafte": "this week",
    "kal": "tomorrow",
}
_RU_LIST_NOISE = frozenset(
    [
        "mere",
        "meri",
        "mera",
        "mujhe",
        "sab",
        "saare",
        "sare",
        "tamam",
        "apne",
        "apni",
        "ke",
        "ki",
        "ka",
        "kaam",
        "wale",
        "wali",
        "walay",
        "jo",
        "hain",
        "hai",
        "kya",
    ]
)
_RU_REF_WORD = re.compile(r"\b(?:wala|wali|wale|walay)\b", re.I)

# --- Urdu in its own script: add, show, done, delete, undo ------------------------------------

_UR_VERB_TAIL = r"(?:کرو|کر\s+دو|کردو|کریں|کر\s+دیں|کیجیے|کیجئے)"
_UR_ADD = re.compile(rf"^(?P<text>.+?)\s+(?:شامل|درج|ایڈ)\s+(?:{_UR_VERB_TAIL}|کر\s+لو)$")
_UR_ADD_FIRST = re.compile(r"^(?:یاد\s+رکھو|لکھ\s+لو)[:\s]+(?P<text>.+)$")
_UR_SHOW = re.compile(r"^(?P<what>.*?)\s*(?:دکھاؤ|دکھا\s+دو|دکھائیں|دکھائیے|بتاؤ|بتا\s+دو|بتائیں)$")
_UR_DONE = re.compile(
    rf"^{_REF}\s+(?:ہو\s+گیا|ہوگیا|ہو\s+گئی|مکمل\s+(?:ہو\s+گیا|{_UR_VERB_TAIL})|"
    rf"ختم\s+(?:ہو\s+گیا|{_UR_VERB_TAIL}))$"
)
_UR_DELETE = re.compile(
    rf"^{_REF}\s+(?:حذف\s+{_UR_VERB_TAIL}|ڈیلیٹ\s+{_UR_VERB_TAIL}|مٹا\s+دو|مٹاؤ|ہٹا\s+دو|ہٹاؤ|"
    r"نکال\s+دو)$"
)
_UR_UNDO = re.compile(r"^(?:واپس\s+(?:کرو|کر\s+دو|کریں|لے\s+لو)|انڈو(?:\s+کرو)?)$")
_UR_BARE_DONE = re.compile(r"^(?:ہو\s+گیا|ہوگیا|ہو\s+گئی|کر\s+لیا|یہ\s+ہو\s+گیا)$")
# Urdu words of a "show" request, as the English grammar's words (or nothing).
_UR_LIST_WORDS = {
    "آج": "today",
    "مکمل": "completed",
    "ختم": "completed",
    "باقی": "pending",
    "ضروری": "urgent",
    "ہفتے": "this week",
    "کل": "tomorrow",
}
_UR_LIST_NOISE = frozenset(
    [
        "میرے",
        "میری",
        "میرا",
        "مجھے",
        "سب",
        "سارے",
        "تمام",
        "اپنے",
        "اپنی",
        "کے",
        "کی",
        "کا",
        "کام",
        "ٹاسک",
        "والے",
        "جو",
        "ہیں",
        "ہے",
        "کیا",
        "اس",
    ]
)
_URDU_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
# Words only Roman Urdu has (no English word, no common name): one is enough to answer in it.
_ROMAN_URDU_WORDS = frozenset(
    [
        "karo",
        "kardo",
        "karen",
        "karein",
        "kijiye",
        "kar",
        "gaya",
        "gya",
        "gayi",
        "hogaya",
        "dikhao",
        "dikha",
        "dikhaiye",
        "dikhayen",
        "batao",
        "bata",
        "bataiye",
        "mere",
        "meri",
        "mera",
        "mujhe",
        "aaj",
        "wala",
        "wali",
        "wale",
        "walay",
        "mukammal",
        "khatam",
        "mita",
        "mitao",
        "hata",
        "hatao",
        "nikal",
        "nikalo",
        "yaad",
        "rakho",
        "likh",
        "wapas",
        "wapis",
        "ise",
        "isay",
        "isko",
        "yeh",
        "liya",
        "lia",
        "baqi",
        "baaki",
        "baki",
        "shamil",
        "darj",
        "daal",
        "poora",
        "hafte",
        "saare",
        "tamam",
        "dilana",
        "zaroori",
        "kaam",
        "nahin",
    ]
)

# Day and repeat words of an added task, in the English the quick-add parser reads: "doodh
# lena kal" is due tomorrow ("kal" is also yesterday, but a task is added for days to come).
_DATE_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"(?<!\w){words}(?!\w)", re.I), english)
    for words, english in [
        (r"(?:har\s+roz|rozana|roz\s+ka|har\s+din|ہر\s+روز|روزانہ|ہر\s+دن)", "every day"),
        (r"(?:har\s+hafte|hafta\s+war|ہر\s+ہفتے|ہفتہ\s+وار)", "every week"),
        (r"(?:har\s+mahine|mahana|ہر\s+مہینے|ماہانہ)", "every month"),
        (r"(?:agle\s+hafte|اگلے\s+ہفتے)", "next week"),
        (r"(?:parson|parso|پرسوں)", "in 2 days"),
        (r"(?:aaj|aj|آج)", "today"),
        (r"(?:kal|کل)", "tomorrow"),
    ]
]


def _in_english_dates(text: str) -> str:
    for pattern, english in _DATE_WORDS:
        text = pattern.sub(english, text)
    return text


# "what should I do next": the open tasks, soonest due first.
_NEXT = re.compile(
    r"^(?:what\s+should\s+i\s+do(?:\s+next|\s+now|\s+first)?|what'?s\s+next|"
    r"what(?:'s|\s+is)\s+(?:my\s+)?next\s+(?:task|thing|todo))$",
    re.I,
)
_HELP = re.compile(r"^(?:help|what can you do|how does this work|commands|\?|مدد)$", re.I)
# A greeting or a thank-you is answered as such, not with "Sorry, I didn't understand".
_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|salam|assalam[ou]\s*alaikum|"
    r"aoa)(?:\s+there)?$",
    re.I,
)
_THANKS = re.compile(
    r"^(?:thanks?|thank\s+you(?:\s+so\s+much)?|thx|ty|cheers|great|perfect|ok(?:ay)?|cool|"
    r"shukriya|shukria|شکریہ)$",
    re.I,
)

# --- listing: filters found anywhere in the sentence -------------------------------------------

_LIST_START = re.compile(
    r"^(?:show|list|display|give|get|view|see|find|search|look|what|what's|whats|which|"
    r"sort(?:ed)?\s+by|order(?:ed)?\s+by|"
    r"any|do\s+i\s+have|are\s+there|how\s+many|my|all|tasks|todos|pending|completed|"
    r"overdue|high|medium|low|urgent|recurring|repeating|open|done)\b",
    re.I,
)
_SEARCH_VERB = re.compile(r"^(?:find|search|look)\b", re.I)
_SEARCH_PHRASE = re.compile(
    r"\b(?:about|containing|mentioning|matching|with\s+the\s+words?|called|named)\s+"
    r"(?P<words>.+?)(?=\s+(?:sorted|sort|ordered|order|by|that|which|due|tagged|with\s+tag)\b|$)",
    re.I,
)
_SORT = re.compile(
    r"\b(?:sort(?:ed)?|order(?:ed)?)\s+by\s+(?P<key>due\s+date|due|date|deadline|priority|"
    r"title|name|created|creation|newest|oldest|updated|last\s+updated)"
    r"(?:\s+(?P<order>asc(?:ending)?|desc(?:ending)?|first|last|reversed?))?",
    re.I,
)
_SORT_KEYS = {
    "due date": "due",
    "due": "due",
    "date": "due",
    "deadline": "due",
    "priority": "priority",
    "title": "title",
    "name": "title",
    "created": "created",
    "creation": "created",
    "newest": "created",
    "oldest": "created",
    "updated": "updated",
    "last updated": "updated",
}
# What a plain "sorted by X" means: the order a person expects first.
_DEFAULT_ORDER = {
    "due": "asc",
    "priority": "desc",
    "title": "asc",
    "created": "desc",
    "updated": "desc",
}
_NEWEST_FIRST = re.compile(r"\b(?:newest|latest|most\s+recent)(?:\s+first)?\b", re.I)
_OLDEST_FIRST = re.compile(r"\boldest(?:\s+first)?\b", re.I)
_PRIORITY_FILTER = re.compile(
    r"\b(?:(?P<priority>high|medium|low|p[1-4])[\s-]+priority|"
    r"priority\s+(?:is\s+)?(?P<priority2>high|medium|low|p[1-4]))\b",
    re.I,
)
_URGENT = re.compile(r"\b(?:urgent|important)\b", re.I)
_TAGGED = re.compile(
    r"\b(?:tagged(?:\s+with)?|with\s+(?:the\s+)?tags?|in\s+tag|labell?ed)\s+"
    r"(?P<tags>#?[\w-]+(?:\s*(?:,|and|or)\s*#?[\w-]+)*)",
    re.I,
)
_HASHTAG = re.compile(r"(?<![\w&])#(?P<tag>[\w-]+)")
_FLAGS: list[tuple[re.Pattern[str], dict[str, Any]]] = [
    (re.compile(r"\b(?:overdue|late|past\s+due)\b", re.I), {"overdue": True}),
    (
        re.compile(r"\b(?:this\s+week'?s?|for\s+the\s+week|within\s+(?:the|a)\s+week)\b", re.I),
        {"due_within": "week"},
    ),
    (re.compile(r"\bnext\s+week'?s?\b", re.I), {"due_within": "next_week"}),
    (re.compile(r"\b(?:this\s+month'?s?|for\s+the\s+month)\b", re.I), {"due_within": "month"}),
    (re.compile(r"\b(?:due\s+today|for\s+today|today'?s|today)\b", re.I), {"due_today": True}),
    (
        re.compile(r"\b(?:due\s+tomorrow|for\s+tomorrow|tomorrow'?s|tomorrow)\b", re.I),
        {"due_within": "tomorrow"},
    ),
    (
        re.compile(
            r"\b(?:without\s+(?:a\s+)?(?:due\s+)?dates?|with\s+no\s+(?:due\s+)?dates?|"
            r"no\s+(?:due\s+)?dates?|undated)\b",
            re.I,
        ),
        {"no_date": True},
    ),
    (re.compile(r"\b(?:recurring|repeating|repeat)\b", re.I), {"recurring": True}),
    (
        re.compile(r"\b(?:completed|complete|done|finished)\b", re.I),
        {"status": "completed"},
    ),
    (
        re.compile(
            r"\b(?:pending|open|incomplete|unfinished|outstanding|remaining|left|"
            r"not\s+done|to\s+do)\b",
            re.I,
        ),
        {"status": "pending"},
    ),
]
# Words a listing request may carry that change nothing.
_LIST_NOISE = frozenset(
    [
        "show",
        "list",
        "display",
        "give",
        "get",
        "view",
        "see",
        "find",
        "search",
        "look",
        "what",
        "what's",
        "whats",
        "which",
        "any",
        "do",
        "i",
        "have",
        "are",
        "there",
        "how",
        "many",
        "me",
        "my",
        "all",
        "the",
        "tasks",
        "task",
        "todos",
        "todo",
        "to-do",
        "items",
        "things",
        "is",
        "are",
        "on",
        "please",
        "everything",
        "of",
        "a",
        "an",
        "in",
        "that",
        "with",
        "by",
        "sorted",
        "sort",
        "order",
        "ordered",
        "due",
        "date",
        "dates",
        "first",
        "last",
        "asc",
        "desc",
        "ascending",
        "descending",
        "reversed",
        "reverse",
        "priority",
        "priorities",
        "can",
        "you",
        "could",
        "would",
        "tell",
        "currently",
        "now",
        "still",
        "got",
        "i've",
        "ive",
        "have",
        "been",
        "yet",
        "stuff",
        "list",
        "for",
        "and",  # "what's overdue and high priority"
        "anything",  # "do I have anything due tomorrow?"
        "something",
        # "what's on my plate today?"
        "plate",
        "agenda",
    ]
)


def _list_filters(text: str) -> dict[str, Any] | None:
    """The list_tasks arguments a listing request asks for, or None when words are left over."""
    filters: dict[str, Any] = {}
    rest = text
    if sort := _SORT.search(rest):
        key = _SORT_KEYS[sort.group("key").lower()]
        order = _DEFAULT_ORDER[key]
        word = (sort.group("order") or "").lower()
        if word.startswith("asc") or (word == "first" and key != "priority"):
            order = "asc"
        elif word.startswith("desc") or word.startswith("revers"):
            order = "desc"
        if sort.group("key").lower() == "oldest":
            order = "asc"
        filters["sort"], filters["order"] = key, order
        rest = rest[: sort.start()] + " " + rest[sort.end() :]
    elif _NEWEST_FIRST.search(rest):
        filters["sort"], filters["order"] = "created", "desc"
        rest = _NEWEST_FIRST.sub(" ", rest)
    elif _OLDEST_FIRST.search(rest):
        filters["sort"], filters["order"] = "created", "asc"
        rest = _OLDEST_FIRST.sub(" ", rest)
    if match := _PRIORITY_FILTER.search(rest):
        filters["priority"] = _priority(match.group("priority") or match.group("priority2"))
        rest = rest[: match.start()] + " " + rest[match.end() :]
    elif match := _URGENT.search(rest):
        filters["priority"] = "high"
        rest = rest[: match.start()] + " " + rest[match.end() :]
    tags: list[str] = []
    if match := _TAGGED.search(rest):
        tags += [
            t.lstrip("#") for t in re.split(r"\s*(?:,|\band\b|\bor\b)\s*", match.group("tags"))
        ]
        if re.search(r"\bor\b", match.group("tags"), re.I):
            filters["tags_mode"] = "any"
        elif len(tags) > 1:
            filters["tags_mode"] = "all"
        rest = rest[: match.start()] + " " + rest[match.end() :]
    for hashtag in _HASHTAG.finditer(rest):
        tags.append(hashtag.group("tag"))
    rest = _HASHTAG.sub(" ", rest)
    if tags:
        filters["tags"] = [tag.lower() for tag in tags if tag]
    if match := _SEARCH_PHRASE.search(rest):
        filters["search"] = match.group("words").strip(" '\"")
        rest = rest[: match.start()] + " " + rest[match.end() :]
    for pattern, flag in _FLAGS:
        if pattern.search(rest):
            for key, value in flag.items():
                filters.setdefault(key, value)
            rest = pattern.sub(" ", rest)
    if filters.get("overdue"):
        # Only an open task can be overdue; "completed late" is not a filter the product has.
        filters["status"] = "pending"
    leftover = [w for w in re.findall(r"[\w'-]+", rest.lower()) if w not in _LIST_NOISE]
    if _SEARCH_VERB.match(text) and "search" not in filters and leftover:
        filters["search"] = " ".join(leftover)
        leftover = []
    if leftover:
        return None
    return filters


# --- entry point --------------------------------------------------------------------------------


def language(message: str) -> Language:
    """The language to answer in: Urdu when most letters are Urdu script, Roman Urdu when a word
    only Roman Urdu has is in the message, else English ("add milk #دودھ" is English)."""
    urdu = len(_URDU_SCRIPT.findall(message))
    if urdu and urdu >= len(re.findall(r"[A-Za-z]", message)):
        return "ur"
    if _ROMAN_URDU_WORDS.intersection(re.findall(r"[a-z]+", message.lower())):
        return "ur-Latn"
    return "en"


def _clean(message: str) -> str:
    text = " ".join(message.strip().split())
    text = _POLITE.sub("", text)
    return text.rstrip(" ?!.؟۔").strip()  # Urdu's question mark and full stop too


def parse(message: str) -> Intent:
    text = _clean(message)
    if not text:
        return NotUnderstood(message)
    if _HELP.match(text):
        return Help()
    if _GREETING.match(text):
        return Help(greeting=True)
    if _THANKS.match(text):
        return Thanks()
    if _UNDO.match(text) or _UR_UNDO.match(text):
        return Undo()
    if _NEXT.match(text):
        return ListTasks({"status": "pending", "sort": "due", "order": "asc"})
    if _BARE_DONE.match(text) or _UR_BARE_DONE.match(text):
        return ActOnTask("complete_task", TaskRef(focus=True))
    if _URDU_SCRIPT.search(text) and (intent := _parse_urdu(text, message)):
        return intent
    if intent := _parse_roman_urdu(text, message):
        return intent
    for pattern in _REMIND_ME_WHEN_FIRST:  # before "set X to Y", which it also looks like
        if match := pattern.match(text):
            what, when = match.group("text").strip(), match.group("when").strip()
            return AddTask(f"{what} {when}", remind_at_due=True)
    if intent := _parse_task_action(text):
        return intent
    for pattern in _SHOW_TASK:
        if (match := pattern.match(text)) and (ref := parse_ref(match.group("ref"))):
            return ShowTask(ref)
    if _LIST_START.match(text):
        filters = _list_filters(text)
        return ListTasks(filters) if filters is not None else NotUnderstood(message)
    if match := _REMIND_ME.match(text):
        return AddTask(match.group("text").strip(), remind_at_due=True)
    for pattern in _ADD_PATTERNS:
        if (match := pattern.match(text)) and match.group("text").strip():
            return AddTask(match.group("text").strip())
    return NotUnderstood(message)


def _parse_roman_urdu(text: str, message: str) -> Intent | None:
    """Add, show, done and delete in Roman Urdu ("doodh lena add karo", "mere tasks dikhao",
    "task 3 ho gaya", "task 3 delete karo")."""
    for pattern, action in ((_RU_DONE, "complete_task"), (_RU_DELETE, "delete_task")):
        if match := pattern.match(text):
            ref = parse_ref(match.group("ref"))
            if ref is not None and ref.words:
                # "doodh wala task": "wala" (the one of) is not part of the title
                words = " ".join(_RU_REF_WORD.sub(" ", ref.words).split())
                ref = TaskRef(words=words) if words else None
            return ActOnTask(action, ref) if ref is not None else None
    if (match := _RU_ADD.match(text) or _RU_ADD_FIRST.match(text)) and match.group("text").strip():
        return AddTask(_in_english_dates(match.group("text").strip()))
    if match := _RU_SHOW.match(text):
        english = [
            _RU_LIST_WORDS.get(word, word)
            for word in re.findall(r"[\w'#-]+", match.group("what").lower())
            if word not in _RU_LIST_NOISE
        ]
        filters = _list_filters(" ".join(["show", *filter(None, english)]))
        return ListTasks(filters) if filters is not None else NotUnderstood(message)
    return None


def _parse_urdu(text: str, message: str) -> Intent | None:
    """Add, show, done and delete in Urdu script ("دودھ لینا شامل کرو", "میرے کام دکھاؤ",
    "کام 3 ہو گیا", "کام 3 حذف کرو")."""
    for pattern, action in ((_UR_DONE, "complete_task"), (_UR_DELETE, "delete_task")):
        if match := pattern.match(text):
            ref = parse_ref(match.group("ref"))
            return ActOnTask(action, ref) if ref is not None else None
    if (match := _UR_ADD.match(text) or _UR_ADD_FIRST.match(text)) and match.group("text").strip():
        return AddTask(_in_english_dates(match.group("text").strip()))
    if match := _UR_SHOW.match(text):
        words = []
        for word in match.group("what").split():
            if word in _UR_LIST_NOISE:
                continue
            words.append(_UR_LIST_WORDS.get(word, word))
        filters = _list_filters(" ".join(["show", *words]))
        return ListTasks(filters) if filters is not None else NotUnderstood(message)
    return None


# Each named field's patterns, and the change a match asks for.
_FIELD_CHANGES: list[tuple[list[re.Pattern[str]], Callable[[re.Match[str]], dict[str, Any]]]] = [
    (_SET_DUE, lambda match: {"due_text": match.group("when")}),
    (_RENAME, lambda match: {"text": _unquoted(match.group("text")), "literal": True}),
    (_SET_NOTES, lambda match: {"description": _unquoted(match.group("text"))}),
    ([_ADD_NOTE], lambda match: {"note": _unquoted(match.group("text"))}),
    ([_REMIND_IN], lambda match: {"reminder_in_minutes": _minutes(match)}),
    ([_CLEAR_DUE], lambda match: {"clear_due": True}),
    (_CLEAR_REMINDERS, lambda match: {"clear_reminders": True}),
    (_UNTAG_ALL, lambda match: {"untag_all": True}),
    (_ADD_TAGS, lambda match: {"tags_added": _tag_words(match.group("tags"))}),
    (_REMOVE_TAGS, lambda match: {"tags_removed": _tag_words(match.group("tags"))}),
]


def _parse_task_field(text: str) -> Intent | None:
    """A change to one named field of a task: its due, title, notes, reminders or tags."""
    for patterns, change in _FIELD_CHANGES:
        for pattern in patterns:
            match = pattern.match(text)
            if match is None or _THE_LIST.match(match.group("ref").strip()):
                continue
            if ref := parse_ref(match.group("ref")):
                return ChangeTask(ref, **change(match))
    return None


def _minutes(match: re.Match[str]) -> int:
    """ "2 hours", "a day", "30 min" (groups amount and unit) in minutes."""
    amount = match.group("amount").lower()
    return (int(amount) if amount.isdigit() else 1) * _UNIT_MINUTES[match.group("unit")[0].lower()]


def _parse_task_action(text: str) -> Intent | None:
    if intent := _parse_task_field(text):
        return intent
    if match := _MANY_IDS.match(text):
        action = _MANY_ID_ACTIONS[match.group("verb").lower()]
        ids = tuple(dict.fromkeys(int(n) for n in re.findall(r"\d+", match.group("ids"))))
        return ActOnMany(action, task_ids=ids)
    for pattern, action in _MANY:
        if match := pattern.match(text):
            filters = _list_filters(f"show {match.group('what')}")
            return ActOnMany(action, filters) if filters is not None else None
    if match := _BARE_SNOOZE.match(text) or _SNOOZE.match(text):
        ref = parse_ref(match.group("ref")) if "ref" in match.groupdict() else TaskRef(focus=True)
        if ref is None:
            return None
        minutes = int(match.group("amount") or 10)
        if (match.group("unit") or "m").lower().startswith("h"):
            minutes *= 60
        return ActOnTask("snooze_reminder", ref, {"minutes": minutes})
    if match := _SHIFT.match(text):
        ref = parse_ref(match.group("ref"))
        minutes = _minutes(match)
        if match.group("earlier") or match.group("verb").lower().endswith("forward"):
            minutes = -minutes
        if ref is not None:
            return ChangeTask(ref, shift_minutes=minutes)
    for pattern in _ADD_REMINDER:
        if match := pattern.match(text):
            ref = parse_ref(match.group("ref")) if match.group("ref") else TaskRef(focus=True)
            if ref is not None:
                return ChangeTask(ref, reminder_minutes=_minutes(match))
    for pattern in _SET_PRIORITY:
        if match := pattern.match(text):
            ref = parse_ref(match.group("ref"))
            priority = match.groupdict().get("priority") or "high"
            if ref is not None:
                return ChangeTask(ref, priority=_priority(priority))
    if match := _RESCHEDULE.match(text):
        ref = parse_ref(match.group("ref"))
        if ref is not None:
            return ChangeTask(ref, due_text=match.group("when"))
    if match := _CHANGE.match(text):
        ref = parse_ref(match.group("ref"))
        new_text = match.group("text").strip()
        if ref is not None and new_text:
            if _QUOTED.match(new_text):
                return ChangeTask(ref, text=_unquoted(new_text), literal=True)
            return ChangeTask(ref, text=new_text)
    for pattern, action in _ACTION_PATTERNS:
        if match := pattern.match(text):
            ref = parse_ref(match.group("ref"))
            if ref is not None:
                return ActOnTask(action, ref)
    return None
