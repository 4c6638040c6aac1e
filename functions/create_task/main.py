"""create-task: the only writer of tasks. It runs task commands and publishes their events.

Routes:
- POST /          a command CloudEvent delivered by the broker (e.g. spawn-recurrence's reply);
                  answered 202, empty. Only with the broker's delivery token (entrypoints/doors).
- POST /commands  a command invoked directly by the API, chat or MCP server; answered 200 with a
                  binary-mode `com.taskflow.command.result` CloudEvent, or a 4xx error. Only
                  with the API's command token: callers authenticate the user first, and the
                  command's user_id is trusted.
- POST /relay     publish pending outbox rows (PingSource / timer / Dapr cron binding); 202.
                  Only from the platform's timers (doors.from_timer): a ping signed like a
                  delivery, or the Dapr sidecar's app API token.
- GET  /healthz   liveness.

The command's CloudEvent id is its idempotency key (see service_layer/task_commands.py).
"""

from __future__ import annotations

import json
from typing import Any

import flask
import functions_framework
from cloudevents.http import CloudEvent
from taskflow import bootstrap, catalogue
from taskflow.domain import commands
from taskflow.domain.errors import DomainError, InvalidOperation, TaskNotFound, ValidationError
from taskflow.entrypoints import (
    cloudevents_http,
    doors,
    function_routes,
    observability,
)
from taskflow.service_layer import task_commands

SOURCE = catalogue.source("create-task")

# A crash between a commit and its relay leaves rows pending: publish them when the worker
# starts, before the first PingSource tick.
relay_at_start = bootstrap.WorkerStartup("outbox-relay-at-start", bootstrap.relay_outbox)


@functions_framework.http
@observability.observed("create-task")
def create_task(request: flask.Request) -> flask.Response:
    relay_at_start.ensure_started()
    return function_routes.dispatch(request, ROUTES)


@cloudevents_http.on_events(*catalogue.COMMAND_TYPES)
def command_from_broker(command_event: CloudEvent) -> flask.Response:
    try:
        run(command_event)
    except DomainError as error:
        # Redelivering a refused command cannot change the outcome: a non-retryable 4xx sends
        # it to the dead-letter sink, where it stays visible.
        return error_answer(error, status=422)
    return cloudevents_http.accepted()


@cloudevents_http.on_events(*catalogue.COMMAND_TYPES)
def command_invoked_directly(command_event: CloudEvent) -> flask.Response:
    try:
        result = run(command_event)
    except DomainError as error:
        return error_answer(error)
    return cloudevents_http.reply(
        catalogue.new_event(
            catalogue.COMMAND_RESULT,
            result,
            user_id=command_event.data["user_id"],
            source=SOURCE,
            event_id=f"result-{command_event['id']}",
        )
    )


def relay(request: flask.Request) -> flask.Response:
    bootstrap.relay_outbox()
    return cloudevents_http.accepted()


ROUTES: function_routes.Routes = {
    ("POST", "/"): doors.from_broker("create-task", command_from_broker),
    ("POST", "/commands"): doors.from_api(command_invoked_directly),
    ("POST", "/relay"): doors.from_timer("create-task", relay),
}


def run(command_event: CloudEvent) -> dict[str, Any]:
    """Handle the command once per CloudEvent id; its events leave right away, beside the
    answer: the process's relay thread publishes them while the answer goes out, so the answer
    no longer waits for the router's fsync'd append (specs/benchmarks.md, cost). The committed
    outbox rows are the guarantee, not this wake-up: a crash before they leave loses nothing."""
    command = commands.COMMANDS[command_event["type"]](**command_event.data)
    result = task_commands.handle(
        command, bootstrap.unit_of_work(), command_id=command_event["id"], source=SOURCE
    )
    bootstrap.background_relay().wake()
    return result


ERROR_STATUS: dict[type[DomainError], tuple[int, str]] = {
    ValidationError: (422, "validation"),
    TaskNotFound: (404, "not_found"),
    InvalidOperation: (409, "invalid_operation"),
}


def error_answer(error: DomainError, *, status: int | None = None) -> flask.Response:
    """The error form of a command result (specs/events/com.taskflow.command.result)."""
    default_status, code = next(
        (answer for kind, answer in ERROR_STATUS.items() if isinstance(error, kind)),
        (422, "rejected"),
    )
    details: dict[str, Any] = {"code": code, "message": str(error), "reason": str(error)}
    if isinstance(error, ValidationError):
        details |= error.as_dict()
    return flask.Response(
        json.dumps({"status": "error", "error": details}),
        status=status or default_status,
        mimetype="application/json",
    )
