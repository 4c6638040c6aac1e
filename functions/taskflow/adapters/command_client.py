"""Send a command to create-task (the only writer of tasks) and return its answer.

The command travels as a binary-mode CloudEvent to `{CREATE_TASK_URL}/commands`; in a cluster
that URL is the Dapr sidecar's service invocation of create-task's `commands` method. The
CloudEvent id is the idempotency key: create-task remembers the answer to every id it handled, so
sending the same id again returns the first answer instead of acting twice.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import jsonschema
import requests
from cloudevents.conversion import to_binary

from taskflow import catalogue, tracing
from taskflow.domain.commands import Command

SOURCE = "/taskflow/api"
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 15.0
# Idempotency keys are scoped by this namespace and the user, so two users choosing the same key
# never share an answer.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c1d2e-4b7a-4f43-9a53-2f0d8f1c7a10")


class CommandError(Exception):
    """Base of everything `CommandClient.send` raises."""


class CommandRejected(CommandError):
    """create-task (or the command's schema) refused the command; nothing changed."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.status = status
        self.reason = reason
        self.field = field


class CommandTaskNotFound(CommandError):
    """The task does not exist for this user (or belongs to someone else)."""


class CreateTaskUnavailable(CommandError):
    """create-task could not be reached or failed; the command may be retried with the same id."""


def command_event_id(command: Command, idempotency_key: str | None) -> str:
    """A fresh id, or one derived from (user, key): the same key sends the same CloudEvent id."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{command.user_id}\n{idempotency_key}"))


class CommandClient:
    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self._url = base_url.rstrip("/") + "/commands"
        self._session = session or requests.Session()

    def send(self, command: Command, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Return create-task's `task` (the task as it now is); raise a CommandError otherwise.

        Sending again with the same `idempotency_key` (per user) returns the first answer; a
        caller scopes its keys so that two different writes never share one."""
        data = dataclasses.asdict(command)
        try:
            event = catalogue.new_event(
                command.cloudevent_type,
                data,
                user_id=command.user_id,
                source=SOURCE,
                event_id=command_event_id(command, idempotency_key),
            )
        except jsonschema.ValidationError as error:
            raise CommandRejected(422, error.message, _field_of(error)) from None
        headers, body = to_binary(event)
        headers |= tracing.transport_headers(event)
        try:
            response = self._session.post(
                self._url,
                data=body,
                headers=headers,
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            )
        except requests.RequestException as error:
            raise CreateTaskUnavailable(
                f"create-task is unreachable: {type(error).__name__}"
            ) from None
        return _answer(response)


def _field_of(error: jsonschema.ValidationError) -> str | None:
    """The client's name of the field: an update's `changes.title` is the client's `title`."""
    path = list(error.absolute_path)
    if path[:1] == ["changes"]:
        path = path[1:]
    return ".".join(str(part) for part in path) or None


def _answer(response: requests.Response) -> dict[str, Any]:
    if response.status_code >= 500:
        raise CreateTaskUnavailable(f"create-task failed with status {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise CreateTaskUnavailable(
            "create-task answered with something that is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise CreateTaskUnavailable("create-task answered with an unexpected JSON shape")
    error = body.get("error")
    if response.status_code >= 400 or body.get("status") == "error" or error:
        _raise_rejection(response.status_code, error if isinstance(error, dict) else {})
    task = body.get("task")
    if not isinstance(task, dict):
        raise CreateTaskUnavailable("create-task's answer holds no task")
    return task


def _raise_rejection(status: int, error: dict[str, Any]) -> None:
    """create-task refuses with a 4xx or with an error result: {code, message, field?, reason?}."""
    reason = str(error.get("reason") or error.get("message") or "rejected by create-task")
    field = error.get("field")
    code = error.get("code")
    if status == 404 or code == "not_found":
        raise CommandTaskNotFound(reason)
    if code == "invalid_operation":
        status = 409
    raise CommandRejected(status if 400 <= status < 500 else 422, reason, field and str(field))
