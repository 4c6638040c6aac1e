"""Read a request's JSON body and its Idempotency-Key header, refusing malformed ones with 4xx."""

from __future__ import annotations

import json
import re
from typing import Any

import flask

from taskflow.entrypoints.http_errors import ApiError, invalid

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 200


def json_body(*, optional: bool = False) -> Any:
    """The parsed JSON body; 400 when it is not JSON. An empty optional body reads as {}.

    The Content-Type is not insisted on: authentication is a bearer header, never a cookie, so a
    form a browser posts cross-site cannot act for a user anyway.
    """
    raw = flask.request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return {}
        raise ApiError(400, "the request needs a JSON body", field="body")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ApiError(400, f"the body is not valid JSON: {error}", field="body") from None
    _refuse_unstorable_text(body, field="body")
    return body


# JSON may escape a lone UTF-16 surrogate ("\ud800"), which no UTF-8 text can hold, and NUL,
# which PostgreSQL's text refuses (22021) while SQLite stores it. Found deep inside (a driver
# encoding the title, the chat agent) they gave a 500, or a 503 "may have been applied" for a
# write that never happened (issue 12, item 4): refused here, once, before any field is read,
# so every route and both databases answer alike.
UNSTORABLE_TEXT = "must not contain a NUL character or a lone surrogate such as \\ud800"


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def has_unstorable_text(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def _refuse_unstorable_text(value: Any, *, field: str) -> None:
    """422 naming the top-level field (or `body`, for a key) holding such a string."""
    if isinstance(value, str):
        if has_unstorable_text(value):
            raise invalid(field, UNSTORABLE_TEXT)
    elif isinstance(value, list):
        for item in value:
            _refuse_unstorable_text(item, field=field)
    elif isinstance(value, dict):
        for key, item in value.items():
            if has_unstorable_text(key):
                raise invalid(field, f"a key {UNSTORABLE_TEXT}")
            # Fields are named from the top: {"title": ...} -> title, {"tags": [...]} -> tags.
            _refuse_unstorable_text(item, field=key if field == "body" else field)


def refuse_unstorable_parameters() -> None:
    """The same for the query string and the path (a search for NUL, a task id holding one)."""
    for name, values in flask.request.args.lists():
        if has_unstorable_text(name) or any(has_unstorable_text(value) for value in values):
            raise invalid(name if not has_unstorable_text(name) else "query", UNSTORABLE_TEXT)
    if has_unstorable_text(flask.request.path):
        raise invalid("path", UNSTORABLE_TEXT)


def idempotency_key() -> str | None:
    key = flask.request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise invalid(
            IDEMPOTENCY_HEADER, f"must be 1 to {IDEMPOTENCY_KEY_MAX} printable characters"
        )
    return key
