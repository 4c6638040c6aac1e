"""Send a command to create-task (the only writer of tasks) and return its answer.

The command travels as a binary-mode CloudEvent to `{CREATE_TASK_URL}/commands`, signed with
the API's command key (adapters/sender_identity.py); in a cluster that URL is the API's Dapr
sidecar invoking the HTTPEndpoint whose base is create-task's Knative address
(specs/deployment.md, "The command path"). The CloudEvent id is the idempotency key:
create-task remembers the answer to every (user, id) it handled, so sending the same id again
returns the first answer instead of acting twice.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

import urllib3
from cloudevents.conversion import to_binary

from taskflow import catalogue, tracing
from taskflow.adapters import http_pool, sender_identity
from taskflow.config import Settings
from taskflow.domain.commands import Command

SOURCE = catalogue.source("api")
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 15.0
# Resending the same CloudEvent is safe (create-task is idempotent by its id), so a brief
# restart of create-task costs a little latency instead of an error.
RETRY_DELAYS_SECONDS = (0.25, 1.0)
# Idempotency keys are scoped by this namespace and the user, so two users choosing the same key
# never share an answer.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c1d2e-4b7a-4f43-9a53-2f0d8f1c7a10")


class CommandError(Exception):
    """Base of everything `CommandClient.send` raises."""


class CommandRejected(CommandError):
    """create-task refused the command (its shape at the door, or its meaning in the domain);
    nothing changed."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.status = status
        self.reason = reason
        self.field = field


class CommandTaskNotFound(CommandError):
    """The task does not exist for this user (or belongs to someone else)."""


class CreateTaskUnavailable(CommandError):
    """create-task did not answer the command; it may be retried with the same id.

    `outcome_unknown` is True when the command may have reached create-task (a read timeout, a
    reset connection, a 5xx): it may have been applied, so nobody may claim "nothing changed"."""

    def __init__(self, message: str, *, outcome_unknown: bool, retryable: bool = True) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown
        # A read timeout is not retried: the command may still be running, and the caller
        # already waited READ_TIMEOUT_SECONDS.
        self.retryable = retryable


def command_event_id(command: Command, idempotency_key: str | None) -> str:
    """A fresh id, or one derived from (user, key): the same key sends the same CloudEvent id."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{command.user_id}\n{idempotency_key}"))


class CommandClient:
    def __init__(
        self, base_url: str, credential: sender_identity.Credential, audience: str
    ) -> None:
        """`credential` proves to create-task that the command comes from the API; `audience`
        is create-task's (sender_identity.service_audience)."""
        self._url = base_url.rstrip("/") + "/commands"
        self._credential = credential
        self._audience = audience
        self._http = http_pool.connection_pool()

    @classmethod
    def from_settings(cls, settings: Settings) -> CommandClient:
        return cls(
            settings.create_task_url,
            sender_identity.command_signer(settings),
            sender_identity.service_audience(settings.namespace, "create-task"),
        )

    def send(self, command: Command, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Return create-task's `task` (the task as it now is); raise a CommandError otherwise.

        Sending again with the same `idempotency_key` (per user) returns the first answer; a
        caller scopes its keys so that two different writes never share one."""
        data = dataclasses.asdict(command)
        # Judged by the command's schema here, before anything is sent, as create-task's door
        # will judge it (catalogue.refusal, the one reading of both): input that passed the
        # caller's edge (REST, chat and MCP tool arguments) but breaks the schema is the
        # client's to fix, so it is a 422 naming the field even while create-task is down,
        # never "unavailable, try again" (a retry would fail the same way). Microseconds on
        # the compiled check (specs/benchmarks.md).
        refused = catalogue.refusal(command.cloudevent_type, data)
        if refused is not None:
            path, reason = refused
            raise CommandRejected(422, reason, _client_field(f"data.{path}"))
        event = catalogue.new_event(
            command.cloudevent_type,
            data,
            user_id=command.user_id,
            source=SOURCE,
            event_id=command_event_id(command, idempotency_key),
            checked_at_the_door=True,  # just above, formats included
        )
        headers, body = to_binary(event)
        headers |= tracing.transport_headers(event)
        outcome_unknown = False
        for attempt, delay in enumerate((*RETRY_DELAYS_SECONDS, None)):
            try:
                return _answer(self._post(body, headers))
            except CreateTaskUnavailable as error:
                outcome_unknown = outcome_unknown or error.outcome_unknown
                if delay is None or not error.retryable:
                    raise CreateTaskUnavailable(
                        f"{error} (after {attempt + 1} attempts)", outcome_unknown=outcome_unknown
                    ) from None
            time.sleep(delay)
        raise AssertionError("the last attempt always returns or raises")

    def _post(self, body: bytes, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
        # Signed per attempt: a retry after a long wait still carries a token in its lifetime.
        headers = headers | self._credential.headers(self._audience)
        try:
            return self._http.request(
                "POST",
                self._url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
            )
        except urllib3.exceptions.HTTPError as error:
            raise CreateTaskUnavailable(
                f"create-task is unreachable: {type(error).__name__}",
                # Refused or timed out while connecting: create-task never saw the command.
                outcome_unknown=not isinstance(error, urllib3.exceptions.ConnectTimeoutError),
                retryable=not isinstance(error, urllib3.exceptions.ReadTimeoutError),
            ) from None


def _client_field(door_field: str) -> str | None:
    """The client's name of a field create-task's door named: the door names the CloudEvent's
    `data.title`, or `data.changes.title` in an update, which the client wrote as `title`."""
    path = door_field.split(".")[1:]  # without "data"
    if path[:1] == ["changes"]:
        path = path[1:]
    return ".".join(path) or None


def _answer(response: urllib3.BaseHTTPResponse) -> dict[str, Any]:
    if response.status >= 500:
        raise CreateTaskUnavailable(
            f"create-task failed with status {response.status}", outcome_unknown=True
        )
    try:
        body = response.json()
    except ValueError:
        raise CreateTaskUnavailable(
            "create-task answered with something that is not JSON", outcome_unknown=True
        ) from None
    if not isinstance(body, dict):
        raise CreateTaskUnavailable(
            "create-task answered with an unexpected JSON shape", outcome_unknown=True
        )
    error = body.get("error")
    if response.status >= 400 or body.get("status") == "error" or error:
        _raise_rejection(response.status, error if isinstance(error, dict) else {})
    task = body.get("task")
    if not isinstance(task, dict):
        raise CreateTaskUnavailable("create-task's answer holds no task", outcome_unknown=True)
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
    if status == 400 and isinstance(field, str) and field.split(".")[0] == "data":
        # The door refused the command's shape (cloudevents_http.check_catalogued): for the
        # client that is unprocessable input, a 422 naming the field as the client wrote it.
        raise CommandRejected(422, reason, _client_field(field))
    raise CommandRejected(status if 400 <= status < 500 else 422, reason, field and str(field))
