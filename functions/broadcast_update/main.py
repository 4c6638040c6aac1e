"""broadcast-update: pushes task changes and due reminders to the connected Socket.IO clients of
the task's user, and to no one else.

The Socket.IO server shares this function's process and port, on one asyncio event loop: an idle
websocket costs a few coroutines and buffers, not a thread, so one instance holds tens of
thousands. Clients connect with `auth={"token": <jwt>}` over the websocket transport and join
only their own user's room; a socket that has not done so within
`settings.socket_auth_timeout_seconds` is closed. The broker delivers CloudEvents to `POST /` as
with every other function.

Served by aiohttp as `python functions/broadcast_update/main.py --host H --port P`
(deploy/Dockerfile, taskflow_dev.local.processes.function_command): aiohttp's websocket (its
frame parser in C, one task per connection) costs about a quarter less memory per socket than
uvicorn's wsproto (specs/benchmarks.md). functions-framework's ASGI app of the
`broadcast_update` target still answers every path but /socket.io/, through
`live_sockets.asgi_bridge` (the server's per-socket pieces: taskflow/adapters/live_sockets.py).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

import engineio
import engineio.async_socket
import engineio.exceptions
import engineio.packet
import functions_framework.aio
import socketio
import socketio.packet
from aiohttp import web
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from taskflow.adapters import live_sockets, sender_identity, tokens
from taskflow.config import Settings, load_settings, require_jwt_secret
from taskflow.entrypoints import cloudevents_http, observability
from taskflow.service_layer import broadcast

log = logging.getLogger(__name__)

# The Socket.IO namespace clients join; its connect handler is the only way into a room.
NAMESPACE = "/"
MAX_CLIENT_MESSAGE_BYTES = 65536


@functools.cache
def settings() -> Settings:
    # Read once, at import (the secret check below), before the event loop runs: a read from a
    # Dapr sidecar over HTTP never blocks the loop.
    return load_settings()


def _user_of(token: str) -> str:
    return tokens.verify(token, secret=settings().jwt_secret)


# Checked while the server imports this module, so an instance without a usable secret refuses to
# start instead of refusing every client later.
require_jwt_secret(settings().jwt_secret)


class LiveSyncServer(socketio.AsyncServer):
    """A Socket.IO server that closes every Engine.IO session (one websocket) that has not
    joined a namespace `auth_timeout()` seconds after it opened: the session exists from the
    websocket's accept, before any Socket.IO packet, so a client that opens websockets and never
    sends the connect packet (or keeps sending refused ones) holds nothing for long."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # Engine.IO sessions whose Socket.IO connect is being handled right now (token check).
        self._connecting: dict[str, int] = {}

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        answer = await super()._handle_eio_connect(eio_sid, environ)
        self._evict_later(eio_sid)
        return answer

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        if eio_sid not in self.environ:
            return  # its session was closed while the packet waited: nothing to connect
        self._connecting[eio_sid] = self._connecting.get(eio_sid, 0) + 1
        try:
            await super()._handle_connect(eio_sid, namespace, data)
        finally:
            self._connecting[eio_sid] -= 1
            if not self._connecting[eio_sid]:
                del self._connecting[eio_sid]

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return live_sockets.LeanEngineIO

    def authenticated(self, eio_sid: str) -> bool:
        sid = self.manager.sid_from_eio_sid(eio_sid, NAMESPACE)
        return sid is not None and self.manager.is_connected(sid, NAMESPACE)

    def _evict_later(self, eio_sid: str) -> None:
        timeout = settings().socket_auth_timeout_seconds
        asyncio.get_running_loop().call_later(timeout, self._evict_if_anonymous, eio_sid)

    def _evict_if_anonymous(self, eio_sid: str) -> None:
        if eio_sid in self._connecting:
            # Its token is being checked: a busy server (a reconnect storm after a restart)
            # must not close sockets that did their part in time. Judge it one period later.
            self._evict_later(eio_sid)
        elif eio_sid in self.eio.sockets and not self.authenticated(eio_sid):
            task = asyncio.ensure_future(self._evict(eio_sid))
            _pending.add(task)
            task.add_done_callback(_pending.discard)

    async def _evict(self, eio_sid: str) -> None:
        session = self.eio.sockets.get(eio_sid)
        # Sends the Engine.IO close packet (a well-behaved client stops there) and forgets the
        # session; but the session's writer would keep the websocket open until its next ping
        # timeout (45 s) for a client that ignores the packet.
        await self.eio.disconnect(eio_sid)
        if session is not None:
            # The writer stops at None and closes the websocket itself (LeanSocket._write_to).
            await session.queue.put(None)


# Strong references to eviction tasks until they finish (the loop keeps only weak ones).
_pending: set[asyncio.Future[Any]] = set()

# Tokens travel in the connect payload, never in cookies, so a foreign origin gains nothing and
# the web page may be served from another port or host. A client sends only its connect packet
# and pongs: a message over 64 KiB closes its socket (aiohttp's default would be 4 MiB).
sio = LiveSyncServer(
    client_manager=live_sockets.RoomManager(),
    async_mode="aiohttp",
    transports=["websocket"],
    cors_allowed_origins="*",
    max_http_buffer_size=MAX_CLIENT_MESSAGE_BYTES,
)
recent_event_ids = broadcast.RecentEventIds()


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    token = auth.get("token") if isinstance(auth, dict) else None
    try:
        # In a thread: the first call reads the settings (maybe from a sidecar), and the loop
        # serves every other socket meanwhile.
        user_id = await asyncio.to_thread(_user_of, str(token or ""))
    except tokens.InvalidToken as error:
        raise socketio.exceptions.ConnectionRefusedError(f"invalid token: {error}") from None
    await sio.enter_room(sid, broadcast.user_room(user_id))
    # The handshake's headers as a WSGI environ (~1 KB) are read by no one once the socket has
    # joined its room; the dict itself stays, as Socket.IO's record of the session.
    environ.clear()


@functions_framework.aio.http
@observability.observed_async("broadcast-update")
async def broadcast_update(request: Request) -> Response:
    key = (request.method, request.url.path)
    if key == ("GET", "/healthz"):
        return JSONResponse({"status": "ok"})
    if key == ("POST", "/"):
        return await push_event(request)
    reason = f"no route for {request.method} {request.url.path}"
    return JSONResponse(cloudevents_http.error_document(reason, "path"), status_code=404)


class DeliveryDoor:
    """The event door's sender check (specs/eventing.md, adapters/sender_identity.py). The router
    reuses a signed token for half its life, so nearly every delivery carries a token the door
    has verified already: `Door.remembered` accepts it on the loop. A token not seen yet is
    verified in a thread (a cluster's issuer may have to be asked for its keys), which happens
    about once per sender every `REUSE_SECONDS`."""

    def __init__(self, door: Callable[[], sender_identity.Door]) -> None:
        self._door = door

    async def refusal(self, headers: Mapping[str, str]) -> tuple[int, str] | None:
        """None when `headers` carry a delivery token this door accepts; else (status, reason)."""
        if self._door().remembered(headers) is not None:
            return None
        try:
            await asyncio.to_thread(self._door().check, headers)
        except sender_identity.Unauthorized as error:
            return 401, str(error)
        except sender_identity.IssuerUnavailable as error:
            return 503, str(error)
        return None


@functools.cache
def _delivery_door() -> sender_identity.Door:
    return sender_identity.delivery_door(settings(), "broadcast-update")


delivery_door = DeliveryDoor(_delivery_door)


async def push_event(request: Request) -> Response:
    # Only the broker may deliver (specs/eventing.md): refused before the body is read.
    refused = await delivery_door.refusal(request.headers)
    if refused:
        status, reason = refused
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        field = "authorization" if status == 401 else None
        document = cloudevents_http.error_document(reason, field)
        return JSONResponse(document, status_code=status, headers=headers)
    try:
        body = await _body_within_limit(request)
        event = cloudevents_http.check_catalogued(
            cloudevents_http.parse_body(request.headers, body),
            accepted_types=broadcast.BROADCAST_TYPES,
        )
    except cloudevents_http.BadCloudEvent as error:
        return _rejected(error)
    if recent_event_ids.first_sighting(event["id"]):
        await sio.emit(
            broadcast.client_event_name(event["type"]),
            broadcast.client_payload(event),
            to=broadcast.user_room(event.data["user_id"]),
        )
    # 202 with no body and no content type: a plain acknowledgement for the broker.
    return Response(status_code=202)


async def _body_within_limit(request: Request) -> bytes:
    """The body, read no further than the limit: a chunked body states no length up front."""
    too_large = cloudevents_http.BadCloudEvent(
        f"event larger than {cloudevents_http.MAX_EVENT_BYTES} bytes"
    )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cloudevents_http.MAX_EVENT_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cloudevents_http.MAX_EVENT_BYTES:
            raise too_large
    return bytes(body)


def _rejected(error: cloudevents_http.BadCloudEvent) -> Response:
    return JSONResponse(cloudevents_http.error_document(error.reason, error.field), status_code=400)


async def _start(_: web.Application) -> None:
    observability.serve_metrics()  # the metrics-only port (never this public one)
    live_sockets.raise_open_files_limit()
    await asyncio.to_thread(settings)  # a bad setting fails the start, not the first socket
    live_sockets.make_full_collections_rare()


def make_app() -> web.Application:
    """The whole process: Socket.IO at /socket.io/, every other path to functions-framework's ASGI
    app of the target above (built from this module as it is, not imported a second time)."""
    function_app = functions_framework.aio.create_asgi_app_from_module(
        "broadcast_update", __file__, "http", sys.modules[__name__], None
    )
    app = web.Application()
    sio.attach(app)
    app.router.add_route("*", "/{path:.*}", live_sockets.asgi_bridge(function_app))
    app.on_startup.append(_start)
    return app


# On SIGTERM: stop listening, give requests in flight this long, then close what is left (idle
# websockets never end by themselves; their clients reconnect elsewhere).
SHUTDOWN_SECONDS = 5.0


def serve(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="broadcast-update: Socket.IO and its event door")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args(argv)
    web.run_app(
        make_app(),
        host=arguments.host,
        port=arguments.port,
        access_log=None,  # one line per delivery and per websocket; errors still log
        print=None,
        shutdown_timeout=SHUTDOWN_SECONDS,
    )


if __name__ == "__main__":
    serve()
