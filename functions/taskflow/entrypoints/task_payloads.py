"""The edge of the task API: check a JSON body's shape and types, then build the command.

Only shape is checked here (object, known keys, JSON types); what the values mean (title length,
priority names, dates, RRULEs, reminders in the past) is the domain's to judge, in create-task.
Every failure names the field, so the client can point at it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from taskflow.domain import commands
from taskflow.entrypoints.http_errors import invalid

Checker = Callable[[str, Any], None]


def _string(field: str, value: Any) -> None:
    if not isinstance(value, str):
        raise invalid(field, "must be a string")


def _integer(field: str, value: Any) -> None:
    # bool is an int in Python, but `true` is not a number of minutes.
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, "must be an integer")


def _boolean(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise invalid(field, "must be true or false")


def _nullable(checker: Checker) -> Checker:
    def check(field: str, value: Any) -> None:
        if value is not None:
            checker(field, value)

    return check


def _string_list(field: str, value: Any) -> None:
    if not isinstance(value, list):
        raise invalid(field, "must be a list of strings")
    for index, item in enumerate(value):
        _string(f"{field}[{index}]", item)


def _object(field: str, value: Any, checkers: Mapping[str, Checker], required: set[str]) -> None:
    if not isinstance(value, dict):
        raise invalid(field, "must be an object")
    for key in value:
        if key not in checkers:
            raise invalid(f"{field}.{key}", f"unknown field; expected one of {sorted(checkers)}")
    for key in sorted(required - value.keys()):
        raise invalid(f"{field}.{key}", "is required")
    for key, item in value.items():
        checkers[key](f"{field}.{key}", item)


# A reminder as the client wrote it, or as a task answer shows it ({"id", "at": null,
# "before_minutes": 30}), so a client can send a task's reminders back unchanged.
_REMINDER_FIELDS: dict[str, Checker] = {
    "id": _string,
    "at": _nullable(_string),
    "before_minutes": _nullable(_integer),
}
_RECURRENCE_FIELDS: dict[str, Checker] = {"rule": _string, "mode": _string}


def _reminders(field: str, value: Any) -> None:
    if not isinstance(value, list):
        raise invalid(field, 'must be a list of {"at": ...} or {"before_minutes": ...} objects')
    for index, reminder in enumerate(value):
        _object(f"{field}[{index}]", reminder, _REMINDER_FIELDS, required=set())


def _recurrence(field: str, value: Any) -> None:
    _object(field, value, _RECURRENCE_FIELDS, required={"rule"})


# The JSON type of each field of a task a client may write (domain/commands.py TASK_FIELDS names
# them). In an update, null clears a field; title cannot be cleared.
_SHAPES: dict[str, Checker] = {
    "title": _string,
    "description": _nullable(_string),
    "priority": _nullable(_string),
    "tags": _nullable(_string_list),
    "due": _nullable(_string),
    "reminders": _nullable(_reminders),
    "recurrence": _nullable(_recurrence),
}
# A field added to the domain without a shape here fails at import, not at the first request.
TASK_FIELDS: dict[str, Checker] = {name: _SHAPES[name] for name in commands.TASK_FIELDS}
# Quick-add: the parser reads title, due, priority, tags, reminders and recurrence from `text`;
# any of the structured fields given beside it wins over what the parser found.
QUICK_ADD_TEXT = "text"
QUICK_ADD_FIELDS: dict[str, Checker] = {
    QUICK_ADD_TEXT: _string,
    **{key: check for key, check in TASK_FIELDS.items() if key != "title"},
}
SNOOZE_FIELDS: dict[str, Checker] = {"minutes": _integer}
COMPLETE_FIELDS: dict[str, Checker] = {"completed": _boolean}


def checked_body(body: Any, fields: Mapping[str, Checker]) -> dict[str, Any]:
    """Return `body` when it is an object of known fields with values of the right types."""
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    for key in body:
        if key not in fields:
            raise invalid(key, f"unknown field; expected one of {sorted(fields)}")
    for key, value in body.items():
        fields[key](key, value)
    return body


def update_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """An update's changes: null clears a field, and a cleared list is an empty one."""
    lists = {"tags", "reminders"}
    changes = {key: [] if value is None and key in lists else value for key, value in body.items()}
    return _compact_reminders(changes)


def without_nulls(body: Mapping[str, Any]) -> dict[str, Any]:
    """On create, an explicit null means the same as leaving the field out."""
    return _compact_reminders({key: value for key, value in body.items() if value is not None})


def _compact_reminders(fields: dict[str, Any]) -> dict[str, Any]:
    """A reminder's null half (`"at": null` of a relative one) is left out of the command."""
    if fields.get("reminders"):
        fields["reminders"] = [
            {key: value for key, value in reminder.items() if value is not None}
            for reminder in fields["reminders"]
        ]
    return fields
