"""Translate between HTTP and CloudEvents for every function, the way a Knative broker expects.

A broker delivery is answered with 202 and an empty body (nothing to reply) or with 200 and a
binary-mode CloudEvent (a reply that re-enters the broker). Any other 200 body makes a Knative
Kafka broker count the delivery as failed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import flask
from cloudevents.conversion import to_binary
from cloudevents.exceptions import GenericException as CloudEventError
from cloudevents.http import CloudEvent, from_http

from taskflow import catalogue

MAX_EVENT_BYTES = 256 * 1024


class BadCloudEvent(ValueError):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def parse(request: flask.Request) -> CloudEvent:
    """Read a binary or structured CloudEvent; raise BadCloudEvent with a reason otherwise."""
    if (request.content_length or 0) > MAX_EVENT_BYTES:
        raise BadCloudEvent(f"event larger than {MAX_EVENT_BYTES} bytes")
    return parse_body(request.headers, request.get_data())


def parse_body(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """`parse` for a body already read (an ASGI function reads it itself)."""
    if len(body) > MAX_EVENT_BYTES:
        raise BadCloudEvent(f"event larger than {MAX_EVENT_BYTES} bytes")
    try:
        event = from_http(dict(headers), body)
    except (CloudEventError, ValueError) as error:
        raise BadCloudEvent(f"not a CloudEvent: {error}") from None
    if not isinstance(event.data, dict):
        raise BadCloudEvent("event data must be a JSON object")
    return event


def parse_catalogued(request: flask.Request, *, accepted_types: Iterable[str]) -> CloudEvent:
    """Parse a CloudEvent of one of `accepted_types` whose data matches the catalogue's JSON
    Schema, so a function's handler only ever sees well-formed events."""
    return check_catalogued(parse(request), accepted_types=accepted_types)


def check_catalogued(event: CloudEvent, *, accepted_types: Iterable[str]) -> CloudEvent:
    """The type and schema checks of `parse_catalogued`, for an event already parsed."""
    accepted = tuple(accepted_types)
    if event["type"] not in accepted:
        raise BadCloudEvent(
            f"type {event['type']!r} is not handled here; expected one of {', '.join(accepted)}",
            field="type",
        )
    # Formats are checked too: a naive or malformed timestamp is refused here, with its field
    # named, instead of failing in the handler and being retried as a server error.
    refused = catalogue.refusal(event["type"], event.data)
    if refused is not None:
        path, reason = refused
        raise BadCloudEvent(reason, field=f"data.{path}" if path else "data")
    return event


EventHandler = Callable[[CloudEvent], flask.Response]
RequestHandler = Callable[[flask.Request], flask.Response]


def on_events(
    *accepted_types: str,
) -> Callable[[EventHandler], Callable[[flask.Request], flask.Response]]:
    """A function's route for CloudEvents of `accepted_types`: the request is parsed and checked
    against the catalogue here, a bad one answered 400 naming the field (a broker does not retry
    it), and only a well-formed event reaches the handler. Every function main uses this, so the
    try/except lives once."""

    def route(handle: EventHandler) -> RequestHandler:
        @functools.wraps(handle)
        def view(request: flask.Request) -> flask.Response:
            try:
                event = parse_catalogued(request, accepted_types=accepted_types)
            except BadCloudEvent as error:
                return rejected_event(error)
            return handle(event)

        return view

    return route


def accepted() -> flask.Response:
    """202 with an empty body and no Content-Type: Flask would otherwise claim text/html for
    a body that does not exist (issue 12, item 6)."""
    response = flask.Response(status=202)
    del response.headers["Content-Type"]
    return response


def reply(event: CloudEvent) -> flask.Response:
    headers, body = to_binary(event)
    return flask.Response(body, status=200, headers=headers)


def rejected(reason: str, *, status: int = 400, field: str | None = None) -> flask.Response:
    """A 4xx that tells the sender what was wrong. A broker does not retry most 4xx."""
    return flask.Response(
        json.dumps(error_document(reason, field)), status=status, mimetype="application/json"
    )


def error_document(reason: str, field: str | None = None) -> dict[str, Any]:
    """The body of a refusal: `{"error": {"reason": ..., "field": ...}}`."""
    error: dict[str, Any] = {"reason": reason}
    if field:
        error["field"] = field
    return {"error": error}


def unauthorized(reason: str) -> flask.Response:
    """A sender without a credential this door accepts (adapters/sender_identity.py)."""
    answer = rejected(reason, status=401, field="authorization")
    answer.headers["WWW-Authenticate"] = "Bearer"
    return answer


def rejected_event(error: BadCloudEvent) -> flask.Response:
    return rejected(error.reason, field=error.field)
