"""The event catalogue: every CloudEvent type TaskFlow sends, where it travels, and its schema.

This module is the one home of these facts. Producers build events with `new_event`, consumers
check them with `validate`, the Trigger manifests in eventing/ filter on these type strings (a
test keeps them in step), and the JSON Schemas live in specs/events/<type>.schema.json.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

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
    `check_formats`, its formats, such as date-time)."""
    error = jsonschema.exceptions.best_match(_validator(type_, check_formats).iter_errors(data))
    if error is not None:
        raise error


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

    `checked_at_the_door`: the receiver checks this schema at its door, so checking it here too
    would be the same check twice. Only commands to create-task (adapters/command_client.py):
    its door (cloudevents_http.on_events) validates every command from every sender."""
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
