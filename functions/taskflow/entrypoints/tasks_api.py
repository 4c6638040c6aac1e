"""The task API under /api/{user_id}/tasks, on the paths of the original design.

Writes become commands sent to create-task (the only writer of tasks); reads go straight to the
database through task_queries (the read side of CQRS). Every route needs the caller's bearer
token, and the token's user must be {user_id}. Another user's task id answers 404, exactly like
an id that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

import flask
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from taskflow.adapters import task_queries
from taskflow.adapters.command_client import CommandRejected
from taskflow.adapters.repository import SqlAlchemyUserRepository
from taskflow.domain import commands
from taskflow.domain.quickadd import parse_quick_add
from taskflow.entrypoints import task_payloads
from taskflow.entrypoints.app_services import services
from taskflow.entrypoints.auth import require_user
from taskflow.entrypoints.http_errors import ApiError
from taskflow.entrypoints.request_body import idempotency_key, json_body

blueprint = flask.Blueprint("tasks", __name__, url_prefix="/api/<user_id>/tasks")

TASK_NOT_FOUND = "task not found"
SEARCH_ALIAS = "q"
# Task ids are database integers; anything else cannot name a task.
TASK_ID_DIGITS_MAX = 18


def _task_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > TASK_ID_DIGITS_MAX:
        raise ApiError(404, TASK_NOT_FOUND)
    return int(raw)


def _send(command: commands.Command) -> dict[str, Any]:
    """Send the command; a client's Idempotency-Key is scoped to this method and path, so a
    retried toggle returns its first answer instead of toggling back."""
    # Without the client's key we make one, so that a write whose outcome is unknown (create-task
    # timed out) can still be retried safely: the 503 hands the key back (see api.py).
    key = idempotency_key() or uuid.uuid4().hex
    flask.g.idempotency_key = key
    scoped = f"{flask.request.method} {flask.request.path}\n{key}"
    return services().commands.send(command, idempotency_key=scoped)


def _read_task(session: Session, user_id: str, task_id: int) -> dict[str, Any]:
    task = task_queries.get_task(session, user_id, task_id)
    if task is None:
        raise ApiError(404, TASK_NOT_FOUND)
    return task


@blueprint.get("")
@require_user
def list_tasks(user_id: str) -> flask.Response:
    now = services().now()
    with Session(services().engine) as session:
        zone = SqlAlchemyUserRepository(session).zone(user_id)
        query = task_queries.TaskQuery.from_params(_list_parameters(), zone, now)
        page = task_queries.list_tasks(session, user_id, query, zone, now)
    return flask.jsonify(page.to_dict())


def _list_parameters() -> MultiDict[str, str]:
    """The query string, with `q` (the original design's name) read as `search`."""
    parameters = flask.request.args.copy()
    if SEARCH_ALIAS in parameters:
        parameters.setlist("search", parameters.poplist(SEARCH_ALIAS))
    return parameters


@blueprint.post("")
@require_user
def create_task(user_id: str) -> tuple[flask.Response, int, dict[str, str]]:
    body = json_body()
    answer: dict[str, Any]
    if isinstance(body, dict) and task_payloads.QUICK_ADD_TEXT in body:
        fields, ambiguities = _quick_add_fields(user_id, body)
        try:
            task = _send(commands.CreateTask(user_id=user_id, **fields))
        except CommandRejected as error:
            # The title came out of the text: the client can only fix the text.
            field = task_payloads.QUICK_ADD_TEXT if error.field == "title" else error.field
            raise ApiError(error.status, error.reason, field=field) from None
        answer = {**task, "ambiguities": ambiguities}
    else:
        checked = task_payloads.checked_body(body, task_payloads.TASK_FIELDS)
        fields = task_payloads.without_nulls(checked)
        if "title" not in fields:
            raise ApiError(422, 'is required (or send {"text": ...} to quick-add)', field="title")
        answer = _send(commands.CreateTask(user_id=user_id, **fields))
    location = flask.url_for("tasks.get_task", user_id=user_id, task_id=answer["id"])
    return flask.jsonify(answer), 201, {"Location": location}


def _quick_add_fields(user_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The parser's reading of `text`, overridden by any structured field sent beside it, and
    what the parser found ambiguous (it read it one way; the client should show the rest)."""
    checked = task_payloads.checked_body(body, task_payloads.QUICK_ADD_FIELDS)
    explicit = task_payloads.without_nulls(checked)
    text = explicit.pop(task_payloads.QUICK_ADD_TEXT)
    if not text.strip():
        raise ApiError(422, "must not be blank", field=task_payloads.QUICK_ADD_TEXT)
    with Session(services().engine) as session:
        zone = SqlAlchemyUserRepository(session).zone(user_id)
    parsed = parse_quick_add(text, zone, now=services().now())
    return {**parsed.as_command_fields(), **explicit}, parsed.ambiguities


@blueprint.get("/<task_id>")
@require_user
def get_task(user_id: str, task_id: str) -> flask.Response:
    with Session(services().engine) as session:
        return flask.jsonify(_read_task(session, user_id, _task_id(task_id)))


@blueprint.put("/<task_id>")
@require_user
def update_task(user_id: str, task_id: str) -> flask.Response:
    number = _task_id(task_id)
    body = task_payloads.checked_body(json_body(), task_payloads.TASK_FIELDS)
    changes = task_payloads.update_changes(body)
    if not changes:
        raise ApiError(422, "send at least one field to change", field="body")
    return flask.jsonify(_send(commands.UpdateTask(user_id, task_id=number, changes=changes)))


@blueprint.delete("/<task_id>")
@require_user
def delete_task(user_id: str, task_id: str) -> tuple[str, int]:
    _send(commands.DeleteTask(user_id, task_id=_task_id(task_id)))
    return "", 204


@blueprint.post("/<task_id>/restore")
@require_user
def restore_task(user_id: str, task_id: str) -> tuple[flask.Response, int, dict[str, str]]:
    """Undo a delete: the task comes back with its id and fields (create-task's CreateTask with
    restore_id). Restoring a task that is back already answers it again."""
    task_payloads.checked_body(json_body(optional=True), {})
    number = _task_id(task_id)
    task = _send(commands.CreateTask(user_id=user_id, title="", restore_id=number))
    location = flask.url_for("tasks.get_task", user_id=user_id, task_id=task["id"])
    return flask.jsonify(task), 201, {"Location": location}


@blueprint.patch("/<task_id>/complete")
@require_user
def toggle_complete(user_id: str, task_id: str) -> flask.Response:
    """Toggle by default (the original design); {"completed": true|false} sets the state
    explicitly, which a client retrying after a lost answer should prefer."""
    number = _task_id(task_id)
    body = task_payloads.checked_body(json_body(optional=True), task_payloads.COMPLETE_FIELDS)
    if "completed" in body:
        complete = body["completed"]
    else:
        with Session(services().engine) as session:
            complete = not _read_task(session, user_id, number)["completed"]
    command_type = commands.CompleteTask if complete else commands.UncompleteTask
    return flask.jsonify(_send(command_type(user_id, task_id=number)))


@blueprint.get("/<task_id>/history")
@require_user
def task_history(user_id: str, task_id: str) -> flask.Response:
    number = _task_id(task_id)
    with Session(services().engine) as session:
        entries = task_queries.audit_history(session, user_id, number)
        # A deleted task keeps its history; only a task never seen by this user is unknown.
        if not entries:
            _read_task(session, user_id, number)
    return flask.jsonify({"items": entries})


@blueprint.post("/<task_id>/skip")
@require_user
def skip_occurrence(user_id: str, task_id: str) -> flask.Response:
    task_payloads.checked_body(json_body(optional=True), {})
    return flask.jsonify(_send(commands.SkipOccurrence(user_id, task_id=_task_id(task_id))))


@blueprint.post("/<task_id>/stop-repeating")
@require_user
def stop_repeating(user_id: str, task_id: str) -> flask.Response:
    task_payloads.checked_body(json_body(optional=True), {})
    return flask.jsonify(_send(commands.StopRepeating(user_id, task_id=_task_id(task_id))))


@blueprint.post("/<task_id>/snooze")
@require_user
def snooze_reminder(user_id: str, task_id: str) -> flask.Response:
    number = _task_id(task_id)
    body = task_payloads.checked_body(json_body(optional=True), task_payloads.SNOOZE_FIELDS)
    command = commands.SnoozeReminder(user_id, task_id=number, **body)
    return flask.jsonify(_send(command))
