"""Build and send CloudEvents the way the broker delivers them to functions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent, from_http
from sender_keys import headers_for
from taskflow import catalogue
from taskflow.domain.model import Recurrence, Task

BROKER_SOURCE = "tests/broker"


def a_task(user_id: str, task_id: int, **fields: Any) -> Task:
    now = datetime.now(UTC)
    task = Task.new(user_id, fields.pop("title", "water the plants"), now=now, **fields)
    task.id = task_id
    return task


def a_recurring_task(user_id: str, task_id: int) -> Task:
    return a_task(
        user_id,
        task_id,
        due_at=datetime.now(UTC) + timedelta(days=1),
        recurrence=Recurrence(rule="FREQ=DAILY"),
    )


def task_event(type_: str, task: Task, *, event_id: str | None = None, **extra: Any) -> CloudEvent:
    data = {
        "event_type": type_.rsplit(".", 1)[1],
        "task_id": task.id,
        "task_data": task.to_dict(),
        "user_id": task.user_id,
        "timestamp": datetime.now(UTC).isoformat(),
        **extra,
    }
    return catalogue.new_event(
        type_, data, user_id=task.user_id, source=BROKER_SOURCE, event_id=event_id
    )


def new_id() -> str:
    return str(uuid.uuid4())


def post_binary(url: str, event: CloudEvent) -> requests.Response:
    """POST `event` to a function's door, signed as the sender that door accepts."""
    headers, body = to_binary(event)
    return requests.post(url, headers=headers | headers_for(url), data=body, timeout=10)


def post_structured(url: str, event: CloudEvent) -> requests.Response:
    headers, body = to_structured(event)
    return requests.post(url, headers=headers | headers_for(url), data=body, timeout=10)


def reply_event(response: requests.Response) -> CloudEvent:
    """The reply a function sent back; fails unless it is a valid binary-mode CloudEvent."""
    assert response.status_code == 200, response.text
    assert "ce-id" in {name.lower() for name in response.headers}, "reply is not binary mode"
    return from_http(dict(response.headers), response.content)
