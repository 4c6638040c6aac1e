"""The event catalogue: every CloudEvent type TaskFlow sends, where it travels, and its schema.

This module is the one home of these facts. Producers build events with `new_event`, consumers
check them with `validate`, the Trigger manifests in eventing/ filter on these type strings (a
test keeps them in step), and the JSON Schemas live in specs/events/<type>.schema.json.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urldefrag, urljoin

import fastjsonschema
import jsonschema
import referencing
from cloudevents.http import CloudEvent

from taskflow import tracing

# The names (types, topics, the catalogue) live in event_types.py, which the pure domain imports;
# this module re-exports them so an edge needs one import for names, schemas and events.
from taskflow.event_types import *  # noqa: F403
from taskflow.event_types import SCHEMA_DIR, SPEC_VERSION, event_type

TASK_SCHEMA_FILE = SCHEMA_DIR / "task.schema.json"


@cache
def schema(type_: str) -> dict[str, Any]:
    return json.loads(event_type(type_).schema_file.read_text())


def validate(type_: str, data: Any, *, check_formats: bool = False) -> None:
    """Raise jsonschema.ValidationError when `data` does not match the type's schema (and, with
    `check_formats`, its formats, such as date-time).

    Valid data, the hot path (every event is checked where it is made and at every door), passes
    a compiled check ten times cheaper than jsonschema's (`_fast_check`; specs/benchmarks.md,
    issue 13). Anything that check refuses, and every schema it cannot compile faithfully, goes
    to jsonschema, whose verdict and error (message, field) are the ones the sender sees."""
    fast = _fast_check(type_, check_formats)
    if fast is not None:
        try:
            fast(data)
        except fastjsonschema.JsonSchemaException:
            pass  # jsonschema decides, and names the field
        else:
            return
    error = jsonschema.exceptions.best_match(_validator(type_, check_formats).iter_errors(data))
    if error is not None:
        raise error


def refusal(type_: str, data: Any) -> tuple[str, str] | None:
    """What the type's schema (formats included) refuses in `data`: (the field's dotted path
    under data, "" for data itself; the reason), or None when it accepts it. The one reading of
    a schema error that create-task's door and the API's command client share, so a command
    refused before it is sent names the same field, for the same reason, as one the door
    refuses (specs/architecture.md, "Where input is checked")."""
    try:
        validate(type_, data, check_formats=True)
    except jsonschema.ValidationError as error:
        return ".".join(str(part) for part in error.absolute_path), error.message
    return None


# Keywords the compiled check gives the meaning jsonschema 2020-12 gives them. A schema using any
# other (`unevaluatedProperties` of the command schemas, say) is left to jsonschema alone, so the
# fast check can never accept what jsonschema refuses; it may refuse more (jsonschema then
# decides), never less.
_FAST_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "anyOf",
        "oneOf",
        "allOf",
        "minimum",
        "minLength",
        "maxLength",
        "format",
        "title",
        "description",
        "$ref",
        # Only with string values (checked below): Python's 1 == True would let the compiled
        # check accept 1 for `"const": true`, which jsonschema refuses.
        "const",
        "enum",
    }
)


# The formats the schemas use; the compiled check asks jsonschema's format checker about them.
_FAST_FORMATS = ("date-time", "date")


@cache
def _fast_check(type_: str, check_formats: bool) -> Callable[[Any], Any] | None:
    """The type's schema compiled to Python by fastjsonschema, its `$ref`s inlined first (they
    are what makes jsonschema slow here, and fastjsonschema's draft 7 knows no `$defs`); the
    formats checked by jsonschema's own format checker. None if the schema uses a keyword
    outside _FAST_KEYWORDS."""
    type_schema = schema(type_)
    inlined = _closed(_inline_refs(type_schema, type_schema["$id"]))
    if not _fast_compatible(inlined):
        return None
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    formats: dict[str, Callable[[Any], bool]] = {
        name: (lambda value, name=name: checker.conforms(value, name))  # type: ignore[misc]
        if check_formats
        else (lambda value: True)
        for name in _FAST_FORMATS
    }
    return fastjsonschema.compile(
        {**inlined, "$schema": "http://json-schema.org/draft-07/schema#"}, formats=formats
    )


def _inline_refs(node: Any, base: str) -> Any:
    """`node` with every `$ref` replaced by the schema it points to (the event schemas refer to
    task.schema.json, which refers to itself; nothing is recursive), `$id`, `$schema` and
    `$defs` dropped."""
    if isinstance(node, list):
        return [_inline_refs(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target_uri, fragment = urldefrag(urljoin(base, node["$ref"]))
        target: Any = _documents()[target_uri]
        for part in (part for part in fragment.split("/") if part):
            target = target[part]
        resolved = _inline_refs(target, target_uri)
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return {**_inline_refs(rest, base), "allOf": [resolved]} if rest else resolved
    return {
        key: (
            {name: _inline_refs(sub, base) for name, sub in value.items()}
            if key == "properties"
            else _inline_refs(value, base)
        )
        for key, value in node.items()
        if key not in ("$id", "$schema", "$defs")
    }


# What a subschema of `allOf` may hold for `_closed` to know every property it evaluates.
_PLAIN_OBJECT_KEYWORDS = frozenset({"type", "properties", "required", "title", "description"})


def _closed(node: Any) -> Any:
    """`node` with `"unevaluatedProperties": false` (the create and update commands' "no field
    but these") said in draft 7's words where that means the same: when its properties and those
    of its `allOf` subschemas (the inlined `$ref`) are all the properties anything evaluates,
    it is `additionalProperties: false` over their union. Otherwise left as it is (and the
    schema then stays with jsonschema)."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {
        key: {name: _closed(sub) for name, sub in value.items()}
        if key == "properties"
        else _closed(value)
        for key, value in node.items()
    }
    members = node.get("allOf", [])
    if (
        node.get("unevaluatedProperties") is False
        and set(node) <= _PLAIN_OBJECT_KEYWORDS | {"allOf", "unevaluatedProperties"}
        and all(isinstance(m, dict) and set(m) <= _PLAIN_OBJECT_KEYWORDS for m in members)
    ):
        evaluated = {name: {} for member in members for name in member.get("properties", {})}
        node = {key: value for key, value in node.items() if key != "unevaluatedProperties"}
        node["properties"] = {**evaluated, **node.get("properties", {})}
        node["additionalProperties"] = False
    return node


def _fast_compatible(node: Any) -> bool:
    if isinstance(node, list):
        return all(_fast_compatible(item) for item in node)
    if not isinstance(node, dict):
        return True
    for key, value in node.items():
        if key not in _FAST_KEYWORDS:
            return False
        if key in ("const", "enum"):
            if not all(isinstance(item, str) for item in (value if key == "enum" else [value])):
                return False
        elif key == "format":
            if value not in _FAST_FORMATS:
                return False  # fastjsonschema's own check of it might be laxer
        elif key == "properties":
            if not all(_fast_compatible(sub) for sub in value.values()):
                return False
        elif key in ("type", "required", "title", "description"):
            continue  # values, not schemas
        elif not _fast_compatible(value):
            return False
    return True


@cache
def _documents() -> dict[str, Any]:
    """The shared schemas by `$id`: what an event schema's `$ref` may point into."""
    task = json.loads(TASK_SCHEMA_FILE.read_text())
    return {task["$id"]: task}


@cache
def _validator(type_: str, check_formats: bool) -> Any:
    # jsonschema.validate() checks the schema against its meta-schema and builds a validator on
    # every call: about 12 ms per event on the benchmark machine, several times per command
    # (specs/benchmarks.md). The schemas never change while a process runs, so once is enough.
    type_schema = schema(type_)
    validator_class = jsonschema.validators.validator_for(type_schema)
    validator_class.check_schema(type_schema)
    format_checker = jsonschema.Draft202012Validator.FORMAT_CHECKER if check_formats else None
    return validator_class(type_schema, format_checker=format_checker, registry=_registry())


@cache
def _registry() -> referencing.Registry:
    """The shared schemas the event schemas `$ref` (task.schema.json: the one definition of a
    task, its writable fields, reminders and recurrence), found by their `$id`."""
    task = json.loads(TASK_SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(task)
    return referencing.Registry().with_resource(
        task["$id"], referencing.Resource.from_contents(task)
    )


def new_event(
    type_: str,
    data: dict[str, Any],
    *,
    user_id: str,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    checked_at_the_door: bool = False,
) -> CloudEvent:
    """Build a validated CloudEvent; `partitionkey` keeps one user's events ordered on Kafka,
    `traceparent` continues the trace of the request that made it (taskflow.tracing).

    `checked_at_the_door`: the caller has just judged `data` with `refusal` (formats included),
    as the receiver's door will, so checking it here too would be the same check twice. Only
    commands to create-task (adapters/command_client.py)."""
    if not checked_at_the_door:
        validate(type_, data)
    attributes = {
        "type": type_,
        "source": source,
        "id": event_id or str(uuid.uuid4()),
        "time": (time or datetime.now(UTC)).isoformat(),
        "datacontenttype": "application/json",
        "specversion": SPEC_VERSION,
        "partitionkey": user_id,
    }
    traceparent = tracing.current_traceparent()
    if traceparent:
        attributes[tracing.TRACEPARENT] = traceparent
    return CloudEvent(attributes, data)
