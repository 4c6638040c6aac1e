"""Helpers of the API tests: accounts and their URLs, creating tasks through the API, and
handing a completion on to spawn-recurrence as the router would."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import from_http
from flask.testing import FlaskClient
from sender_keys import headers_for
from taskflow import catalogue
from taskflow_dev.local.launch import wait_until

PASSWORD = "correct horse battery"


def _load_function_fixtures() -> Any:
    """The process and broker helpers of tests/functions/function_processes.py, loaded by path
    rather than copied (test folders are not packages)."""
    path = Path(__file__).resolve().parents[1] / "functions" / "function_processes.py"
    spec = importlib.util.spec_from_file_location("taskflow_function_processes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


function_fixtures = _load_function_fixtures()


@dataclass(frozen=True)
class Account:
    user_id: str
    token: str
    email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def tasks_url(self) -> str:
        return f"/api/{self.user_id}/tasks"

    def task_url(self, task_id: int | str, action: str = "") -> str:
        return f"{self.tasks_url}/{task_id}" + (f"/{action}" if action else "")


_emails = itertools.count()


def sign_up(client: FlaskClient, *, timezone: str | None = None) -> Account:
    email = f"user{next(_emails)}-{uuid.uuid4().hex[:8]}@example.org"
    body: dict[str, Any] = {"email": email, "password": PASSWORD}
    if timezone:
        body["timezone"] = timezone
    response = client.post("/api/auth/signup", json=body)
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    return Account(answer["user_id"], answer["token"], email)


def create(client: FlaskClient, account: Account, **fields: Any) -> dict[str, Any]:
    response = client.post(account.tasks_url, json=fields, headers=account.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# How many completions of each (broker, task) hand_on has handed on.
_handed_on: dict[tuple[int, int], int] = {}


def hand_on(broker: Any, spawn_url: str, create_task_url: str, task_id: int) -> None:
    """Deliver the task's newest task.completed to spawn-recurrence and its reply (the spawn
    command) to create-task, as the router does after a completion. The completion leaves
    create-task's outbox just after the answer (its relay thread publishes it), so wait for one
    more than this task has had handed on."""

    def completions() -> list[Any]:
        return [
            event
            for event in broker.events(catalogue.TASK_COMPLETED, catalogue.TOPIC_TASK_EVENTS)
            if event.data["task_id"] == task_id
        ]

    handed = _handed_on.get((id(broker), task_id), 0)
    wait_until(
        lambda: len(completions()) > handed,
        what=f"the completion of task {task_id} to be published",
    )
    completed = completions()[-1]
    _handed_on[(id(broker), task_id)] = len(completions())
    headers, body = to_binary(completed)
    reply = requests.post(
        spawn_url, headers=headers | headers_for(spawn_url), data=body, timeout=10
    )
    assert reply.status_code == 200, reply.text
    spawn = from_http(dict(reply.headers), reply.content)
    headers, body = to_binary(spawn)
    delivered = requests.post(
        create_task_url, headers=headers | headers_for(create_task_url), data=body, timeout=10
    )
    assert delivered.status_code == 202, delivered.text
