"""Read a request's JSON body and its Idempotency-Key header, refusing malformed ones with 4xx."""

from __future__ import annotations

import json
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
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ApiError(400, f"the body is not valid JSON: {error}", field="body") from None


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
