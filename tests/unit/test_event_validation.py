"""Every event is checked against its schema where it is made and at every door. The cheap
compiled check (catalogue._fast_check) must give jsonschema's verdict and name the same field:
a bad event refused before is refused now, with the same reason; a good one still passes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from taskflow import catalogue

TASK = {
    "id": 7,
    "user_id": "user-1",
    "title": "buy milk",
    "description": "",
    "completed": False,
    "completed_at": None,
    "priority": "high",
    "tags": ["home"],
    "due_at": "2030-01-01T09:00:00+00:00",
    "due_date": None,
    "reminders": [{"id": "r1", "at": "2030-01-01T08:00:00+00:00", "before_minutes": None}],
    "recurrence": {
        "rule": "FREQ=DAILY",
        "mode": "due",
        "series_id": "s1",
        "occurrence": 1,
        "anchor": None,
    },
    "created_at": "2026-12-03T10:00:00+00:00",
    "updated_at": "2026-12-03T10:00:00+00:00",
}
CREATED = {
    "event_type": "created",
    "task_id": 7,
    "task_data": TASK,
    "user_id": "user-1",
    "timestamp": "2026-12-03T10:00:00+00:00",
}
RESULT = {"status": "ok", "task": TASK}
FIELDS = {
    "title": "buy milk",
    "description": None,
    "priority": "p1",
    "tags": ["home"],
    "due": "2030-01-01",
    "reminders": [{"id": "r1", "at": "2030-01-01T08:00:00Z", "before_minutes": 30}],
    "recurrence": {"rule": "FREQ=DAILY", "mode": "due"},
}
CREATE = {"user_id": "user-1", **FIELDS, "restore_id": None}
UPDATE = {"user_id": "user-1", "task_id": 7, "changes": FIELDS}
# Values put in place of each value of a valid event, one at a time: wrong types, bounds,
# booleans where integers go (True == 1 in Python), naive and malformed timestamps.
REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    1.5,
    -3,
    "",
    "x",
    "2026-12-03T10:00:00",
    "2026-13-45T10:00:00+00:00",
    "2026-12-03",
    [],
    ["x", 1],
    {},
    {"unknown": 1},
]


def variants(value: Any) -> Iterator[Any]:
    """`value`, then every copy of it with one value replaced or one unknown key added."""
    yield value
    if isinstance(value, dict):
        extra = copy.deepcopy(value)
        extra["unexpected"] = 1
        yield extra
        for key in value:
            missing = {k: v for k, v in value.items() if k != key}
            yield missing
            for inner in variants_of_child(value[key]):
                yield {**value, key: inner}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for inner in variants_of_child(item):
                yield [*value[:index], inner, *value[index + 1 :]]


def variants_of_child(value: Any) -> Iterator[Any]:
    yield from REPLACEMENTS
    if isinstance(value, dict | list):
        yield from list(variants(value))[1:]


def jsonschema_error(
    type_: str, data: Any, check_formats: bool
) -> jsonschema.ValidationError | None:
    return jsonschema.exceptions.best_match(
        catalogue._validator(type_, check_formats).iter_errors(data)
    )


@pytest.mark.parametrize("check_formats", [True, False])
@pytest.mark.parametrize(
    ("type_", "valid"),
    [
        (catalogue.TASK_CREATED, CREATED),
        (
            catalogue.TASK_UPDATED,
            {
                **CREATED,
                "event_type": "updated",
                "changes": {"title": {"before": "a", "after": "b"}},
            },
        ),
        (catalogue.COMMAND_RESULT, RESULT),
        (catalogue.CREATE_TASK, CREATE),
        (catalogue.UPDATE_TASK, UPDATE),
    ],
)
def test_the_compiled_check_refuses_exactly_what_jsonschema_refuses(
    type_: str, valid: dict[str, Any], check_formats: bool
) -> None:
    assert catalogue._fast_check(type_, check_formats) is not None
    checked = 0
    for data in variants(valid):
        expected = jsonschema_error(type_, data, check_formats)
        if expected is None:
            catalogue.validate(type_, data, check_formats=check_formats)
        else:
            with pytest.raises(jsonschema.ValidationError) as raised:
                catalogue.validate(type_, data, check_formats=check_formats)
            assert raised.value.message == expected.message
            assert list(raised.value.absolute_path) == list(expected.absolute_path)
        checked += 1
    assert checked > 100


def test_a_schema_with_keywords_the_compiled_check_lacks_is_left_to_jsonschema() -> None:
    # A spawn's `"completed": {"const": true}`: Python's 1 == True would let a compiled check
    # take 1 for true.
    assert catalogue._fast_check(catalogue.SPAWN_OCCURRENCE, True) is None


def test_a_command_with_a_field_no_schema_names_is_refused_naming_it() -> None:
    # unevaluatedProperties (2019-09+) refuses a create's unknown field; draft 7 alone would
    # ignore the keyword, so the compiled check says it as additionalProperties.
    with pytest.raises(jsonschema.ValidationError) as raised:
        catalogue.validate(
            catalogue.CREATE_TASK,
            {"user_id": "u", "title": "t", "colour": "red"},
            check_formats=True,
        )
    assert "colour" in raised.value.message
