"""broadcast-update: pushes task changes and due reminders to the connected Socket.IO clients of
the task's user, and to no one else.

The Socket.IO server shares this function's process and port. Clients connect with
`auth={"token": <jwt>}` over the websocket transport and join only their own user's room; the
broker delivers CloudEvents to `POST /` as with every other function.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import flask
import functions_framework
import socketio
from taskflow.adapters import tokens
from taskflow.config import load_settings
from taskflow.entrypoints import cloudevents_http, doors, function_routes, observability
from taskflow.service_layer import broadcast

# functions-framework serves with gunicorn's gthread worker and reads THREADS after importing this
# module. Every open websocket holds one of those threads for its lifetime, so the default
# (4 per CPU) would cap an instance at a handful of clients; 256 leaves room for ~250 clients
# plus broker deliveries. Set THREADS in the environment to change it.
os.environ.setdefault("THREADS", "256")

# Tokens travel in the connect payload, never in cookies, so a foreign origin gains nothing and
# the web page may be served from another port or host.
sio = socketio.Server(async_mode="threading", transports=["websocket"], cors_allowed_origins="*")
recent_event_ids = broadcast.RecentEventIds()


@functools.cache
def jwt_secret() -> str:
    return load_settings().jwt_secret


@sio.event
def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    token = auth.get("token") if isinstance(auth, dict) else None
    try:
        user_id = tokens.verify(str(token or ""), secret=jwt_secret())
    except tokens.InvalidToken as error:
        raise socketio.exceptions.ConnectionRefusedError(f"invalid token: {error}") from None
    sio.enter_room(sid, broadcast.user_room(user_id))


# functions-framework builds its Flask app, then imports this module inside
# `with app.app_context():` (functions_framework.create_app), so the app is reachable here and
# nowhere else before it starts serving. Wrapping its wsgi_app puts Socket.IO at /socket.io/ on
# the same port, while every other path still reaches the function below.
_app = flask.current_app._get_current_object()  # type: ignore[attr-defined]
_app.wsgi_app = socketio.WSGIApp(sio, _app.wsgi_app)


@functions_framework.http
@observability.observed("broadcast-update")
def broadcast_update(request: flask.Request) -> flask.Response:
    return function_routes.dispatch(request, ROUTES)


def push_event(request: flask.Request) -> flask.Response:
    try:
        event = cloudevents_http.parse_catalogued(request, accepted_types=broadcast.BROADCAST_TYPES)
    except cloudevents_http.BadCloudEvent as error:
        return cloudevents_http.rejected_event(error)
    if recent_event_ids.first_sighting(event["id"]):
        sio.emit(
            broadcast.client_event_name(event["type"]),
            broadcast.client_payload(event),
            to=broadcast.user_room(event.data["user_id"]),
        )
    return cloudevents_http.accepted()


ROUTES: function_routes.Routes = {("POST", "/"): doors.from_broker("broadcast-update", push_event)}
