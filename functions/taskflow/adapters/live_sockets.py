"""Socket.IO on aiohttp for tens of thousands of idle sockets in one process: the per-socket
pieces of python-engineio and python-socketio made leaner, an ASGI bridge so a
functions-framework target shares the server, and the process settings many sockets need.

The classes below override private methods of python-engineio's AsyncServer/AsyncSocket and
python-socketio's AsyncManager (no public hook exists for a socket's queue, tasks or an emit's
fan-out), so pyproject.toml pins both libraries to the minor versions they were written against,
and tests/functions/test_broadcast_update.py exercises them end to end. Why and what each saves:
specs/benchmarks.md ("socket, round 3").
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

import engineio
import engineio.async_socket
import engineio.exceptions
import engineio.packet
import socketio
import socketio.packet
from aiohttp import web
from multidict import CIMultiDict

log = logging.getLogger(__name__)


class OutgoingQueue:
    """An Engine.IO socket's queue of packets to send, with the part of asyncio.Queue's interface
    that engineio uses. asyncio.Queue allocates three deques and an Event per socket (~3 KB, a
    tenth of an idle socket); this holds a list and at most one waiting future, since only the
    socket's writer task ever waits to get."""

    __slots__ = ("_getter", "_items", "_joiners", "_unfinished")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getter: asyncio.Future[None] | None = None
        self._unfinished = 0
        self._joiners: list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._unfinished += 1
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(None)

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> Any:
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        return self._items.pop(0)

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if not self._unfinished and self._joiners:
            for joiner in self._joiners:
                if not joiner.done():
                    joiner.set_result(None)
            self._joiners = None

    async def join(self) -> None:
        if self._unfinished:
            joiner = asyncio.get_running_loop().create_future()
            self._joiners = [*(self._joiners or []), joiner]
            await joiner


class LeanSocket(engineio.async_socket.AsyncSocket):
    """An Engine.IO socket on the websocket transport with three asyncio tasks instead of six.

    engineio's own keeps, per idle socket: its connection's task, a writer task, a task reading
    the next message (asyncio.wait_for wraps it), a task waiting for the next outgoing packet (the
    writer's wait_for), and a task sleeping until the next ping; each with its coroutine frames,
    futures, timer and context (~3 KB of the ~26 KB an idle socket costs). Here the connection's
    task reads under `asyncio.timeout` (a timer, no task), the writer task waits on the queue, and
    the ping is a timer that queues the PING packet. The protocol is engineio's: same packets,
    same timeouts, same closing."""

    def schedule_ping(self) -> None:
        # only schedule a new ping if the previous ping wait cycle completed (as engineio does)
        if self.last_ping:
            self.last_ping = None
            asyncio.get_running_loop().call_later(self.server.ping_interval, self._ping)

    def _ping(self) -> None:
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.queue.put_nowait(engineio.packet.Packet(engineio.packet.PING))

    async def poll(self) -> list[Any]:
        """The packets waiting to be sent, at least one; [] once the socket is to close. No
        timeout of its own (engineio's wait_for cost a task): the reader, which times out on a
        silent client, always ends it with the None it queues."""
        try:
            packets = [await self.queue.get()]
            self.queue.task_done()
        except asyncio.CancelledError:
            raise engineio.exceptions.QueueEmpty from None
        if packets == [None]:
            return []
        while True:
            try:
                pkt = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            self.queue.task_done()
            if pkt is None:
                self.queue.put_nowait(None)
                break
            packets.append(pkt)
        return packets

    def _silence_seconds(self) -> float:
        return float(self.server.ping_interval + self.server.ping_timeout)

    async def _websocket_handler(self, ws: Any) -> None:
        self.connected = True  # websocket from the start: there is no upgrade to go through
        self.upgraded = True
        writer = asyncio.ensure_future(self._write_to(ws))
        while True:
            try:
                async with asyncio.timeout(self._silence_seconds()):
                    data = await ws.wait()
            except (Exception, asyncio.CancelledError):
                break  # closed, silent too long, or the server is stopping
            if data is None or len(data) > self.server.max_http_buffer_size:
                break
            try:
                await self.receive(engineio.packet.Packet(encoded_packet=data))
            except engineio.exceptions.UnknownPacketError:
                pass
            except engineio.exceptions.SocketIsClosedError:
                break
            except Exception:
                log.exception("Engine.IO socket %s: unexpected receive error", self.sid)
        await self.queue.put(None)  # unlock the writer task so it can exit
        await writer
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def _write_to(self, ws: Any) -> None:
        while True:
            try:
                packets = await self.poll()
            except engineio.exceptions.QueueEmpty:
                break
            if not packets:
                break  # the socket is closing
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except Exception:
                break
        await ws.close()


class LeanEngineIO(engineio.AsyncServer):
    """Engine.IO with `OutgoingQueue` as each socket's queue and `LeanSocket` as its sockets."""

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        return OutgoingQueue()

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "connect":
            # engineio builds its own AsyncSocket (no hook for the class) and announces it here,
            # before it serves the websocket or schedules a ping; LeanSocket adds no state.
            socket = self.sockets.get(args[0])
            if type(socket) is engineio.async_socket.AsyncSocket:
                socket.__class__ = LeanSocket
        return await super()._trigger_event(event, *args, **kwargs)


class RoomManager(socketio.AsyncManager):
    """Socket.IO's in-process rooms, with an emit to a room that queues the one encoded packet on
    each socket in turn. socketio's own starts a task per recipient and waits for them all; here
    queueing never waits (`OutgoingQueue.put`), so a task per socket per event buys nothing."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: str | None = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is not None or skip_sid is not None or not isinstance(data, dict):
            # Not how this function emits: socketio's general path.
            await super().emit(event, data, namespace, room, skip_sid, callback, **kwargs)
            return
        if namespace not in self.rooms:
            return
        encoded = self.server.packet_class(
            socketio.packet.EVENT, namespace=namespace, data=[event, data]
        ).encode()
        if not isinstance(encoded, str):  # binary attachments: several packets
            await super().emit(event, data, namespace, room, skip_sid, callback, **kwargs)
            return
        message = engineio.packet.Packet(engineio.packet.MESSAGE, encoded)
        for _, eio_sid in self.get_participants(namespace, room):
            await self.server._send_eio_packet(eio_sid, message)


def raise_open_files_limit() -> None:
    """Every websocket is a file descriptor: lift the soft limit (often 1024) to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):  # an infinite hard limit may be refused
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def make_full_collections_rare() -> None:
    """10,000 sockets are millions of long-lived objects: each full (generation 2) collection
    walks them all and stalls the loop for about a second, which was the whole fan-out tail
    (p99 1.2 s -> 83 ms without it, specs/benchmarks.md). Per-delivery garbage dies young, in
    generations 0 and 1, which keep their defaults; a full collection still runs after 1,000
    generation-1 collections (minutes apart under load) so cycles left by closed sockets are
    still reclaimed. Objects alive at start-up are frozen out of every collection."""
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 1000)
    gc.freeze()


ASGIApp = Callable[
    [
        dict[str, Any],
        Callable[[], Awaitable[dict[str, Any]]],
        Callable[[dict[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def asgi_bridge(asgi_app: ASGIApp) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler that runs one HTTP request through `asgi_app` (ASGI 3): the body is
    streamed to it in chunks (the function stops reading past its limit), its response is
    gathered and sent whole (every answer of this function is a small document)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": f"{request.version.major}.{request.version.minor}",
            "method": request.method,
            "scheme": request.scheme,
            "path": request.path,
            "raw_path": request.rel_url.raw_path.encode(),
            "query_string": request.rel_url.raw_query_string.encode(),
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.raw_headers],
            "client": tuple(peer[:2]) if peer else None,
            "server": None,
        }
        answered = asyncio.Event()
        status = 500
        headers: CIMultiDict[str] = CIMultiDict()
        body: list[bytes] = []

        body_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal body_sent
            if body_sent:
                await answered.wait()  # what an ASGI server says once the exchange is over
                return {"type": "http.disconnect"}
            chunk = await request.content.read(65536)
            body_sent = request.content.at_eof()
            return {"type": "http.request", "body": chunk, "more_body": not body_sent}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() != b"content-length":  # aiohttp counts the body itself
                        headers.add(name.decode("latin-1"), value.decode("latin-1"))
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        try:
            await asgi_app(scope, receive, send)
        finally:
            answered.set()
        return web.Response(status=status, headers=headers, body=b"".join(body))

    return handle
