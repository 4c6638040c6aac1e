"""A task's fields are defined once for Python (domain/commands.py) and once for the wire
(specs/events/task.schema.json), and every event schema refers to that one task schema."""

from __future__ import annotations

import json
from pathlib import Path

from taskflow.domain import commands

EVENTS = Path(__file__).resolve().parents[2] / "specs" / "events"


def test_the_wire_and_the_domain_name_the_same_task_fields() -> None:
    task_schema = json.loads((EVENTS / "task.schema.json").read_text())
    assert tuple(task_schema["$defs"]["fields"]["properties"]) == commands.TASK_FIELDS


def test_no_event_schema_keeps_its_own_copy_of_the_task() -> None:
    copies = [
        path.name
        for path in EVENTS.glob("com.taskflow.*.schema.json")
        if "$defs" in json.loads(path.read_text())
    ]
    assert copies == []
