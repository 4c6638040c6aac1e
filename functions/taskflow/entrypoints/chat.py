"""The chat endpoints (POST /api/{user_id}/chat, GET /api/{user_id}/chat/{id}) and the web
page's runtime settings.

It only translates: it checks the body, builds the signed-in user's tools and assistant, and
runs one chat turn (chat/service.py). Authentication is the REST API's (401 without a valid
token, 403 for another user's path), and so is the error shape.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import flask

from taskflow.adapters import rate_limit
from taskflow.chat.agent import LanguageModelUnavailable
from taskflow.chat.conversations import ConversationNotFound, conversation_store
from taskflow.chat.service import chat_turn, make_assistant, user_timezone
from taskflow.chat.tools import TaskTools, database_task_getter, database_task_reader
from taskflow.entrypoints.app_services import services
from taskflow.entrypoints.auth import require_user
from taskflow.entrypoints.http_errors import ApiError, invalid
from taskflow.entrypoints.request_body import json_body

log = logging.getLogger(__name__)

blueprint = flask.Blueprint("chat", __name__)

MESSAGE_MAX_CHARS = 4000
CHAT_FIELDS = ("conversation_id", "message")
CONVERSATION_ID_DIGITS_MAX = 18  # ids are 64-bit integers (53-bit under Dapr)


@blueprint.post("/api/<user_id>/chat")
@require_user
def chat(user_id: str) -> flask.Response:
    app = services()
    app.rate_limiter.admit(user_id, rate_limit.CHAT)
    conversation_id, message = _checked_body(json_body())
    tools = TaskTools(
        user_id,
        app.commands,
        database_task_reader(app.engine, app.now),
        database_task_getter(app.engine),
    )
    assistant = make_assistant(app.settings, tools, user_timezone(app.engine, user_id), app.now)
    try:
        answer = chat_turn(
            conversation_store(app.settings, app.engine),
            assistant,
            user_id,
            conversation_id,
            message,
        )
    except ConversationNotFound:
        raise ApiError(404, "conversation not found", field="conversation_id") from None
    except LanguageModelUnavailable as error:
        log.warning("language model unavailable: %s", error)
        raise ApiError(502, "the language model is unavailable; try again shortly") from None
    return flask.jsonify(answer.to_dict())


@blueprint.get("/api/<user_id>/chat/<conversation_id>")
@require_user
def conversation(user_id: str, conversation_id: str) -> flask.Response:
    """A stored conversation, oldest message first, so a page can show it again."""
    if not conversation_id.isdigit() or len(conversation_id) > CONVERSATION_ID_DIGITS_MAX:
        raise ApiError(404, "conversation not found")
    app = services()
    try:
        messages = conversation_store(app.settings, app.engine).history(
            user_id, int(conversation_id)
        )
    except ConversationNotFound:
        raise ApiError(404, "conversation not found") from None
    return flask.jsonify(
        {
            "conversation_id": int(conversation_id),
            "messages": [dataclasses.asdict(message) for message in messages],
        }
    )


@blueprint.get("/config.json")
def page_config() -> flask.Response:
    """What the web page cannot know by itself: where the live-sync server listens."""
    return flask.jsonify(
        {
            "socket_url": services().settings.public_socket_url,
            "socket_port": services().settings.ports.broadcast_update,
        }
    )


def _checked_body(body: Any) -> tuple[int | None, str]:
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    for key in body:
        if key not in CHAT_FIELDS:
            raise invalid(key, f"unknown field; expected one of {list(CHAT_FIELDS)}")
    message = body.get("message")
    if not isinstance(message, str):
        raise ApiError(400, "is required and must be a string", field="message")
    if not message.strip():
        raise ApiError(400, "must not be blank", field="message")
    if len(message) > MESSAGE_MAX_CHARS:
        raise ApiError(413, f"is longer than {MESSAGE_MAX_CHARS} characters", field="message")
    conversation_id = body.get("conversation_id")
    if conversation_id is not None and (
        isinstance(conversation_id, bool) or not isinstance(conversation_id, int)
    ):
        raise invalid("conversation_id", "must be an integer")
    return conversation_id, message.strip()
