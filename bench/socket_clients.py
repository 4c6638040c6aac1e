"""One client process of the `socket` benchmark: many idle Socket.IO connections spoken as raw
Engine.IO v4 over aiohttp websockets (a full Socket.IO client object per socket would cost the
client more than the server), each recording when it receives each event.

`python -m bench.socket_clients URL SECRET FIRST_USER USERS PER_USER`: opens USERS x PER_USER
sockets (users `socket-user-<FIRST_USER>`... each with its own token), prints one JSON line
`{"connected": n, "failed": n}` when all have answered, then waits for a line on stdin and
prints `{"receipts": {event_id: [monotonic seconds, ...]}, "dropped": n}` and exits.
CLOCK_MONOTONIC is one clock for every process of the machine, so the parent can subtract its
send times from these.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections import defaultdict

import aiohttp
from taskflow.adapters import tokens

# Handshakes in flight per client process. Clients arrive at a pace, not all in one instant:
# with 200 in flight per process the server's RSS ended ~140 MB higher (a reconnect storm's
# transient allocations fragment the heap; specs/benchmarks.md).
CONNECT_CONCURRENCY = 25
CONNECT_TIMEOUT_SECONDS = 60.0


def user_id(index: int) -> str:
    return f"socket-user-{index}"


class Clients:
    def __init__(self, url: str, secret: str) -> None:
        self.url = url.rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        self.secret = secret
        self.receipts: dict[str, list[float]] = defaultdict(list)
        self.connected = 0
        self.failed = 0
        self.dropped = 0
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def open(
        self, session: aiohttp.ClientSession, user: str, gate: asyncio.Semaphore
    ) -> aiohttp.ClientWebSocketResponse | None:
        token = tokens.issue(user, secret=self.secret, issuer="bench", ttl_seconds=3600)
        async with gate:
            try:
                ws = await session.ws_connect(self.url, autoping=True, max_msg_size=1 << 20)
                opened = await ws.receive_str(timeout=CONNECT_TIMEOUT_SECONDS)  # 0{"sid":...}
                if not opened.startswith("0"):
                    raise RuntimeError(f"no Engine.IO open packet: {opened[:80]}")
                await ws.send_str("40" + json.dumps({"token": token}))
                joined = await ws.receive_str(timeout=CONNECT_TIMEOUT_SECONDS)
                if not joined.startswith("40"):
                    raise RuntimeError(f"refused: {joined[:200]}")
            except (aiohttp.ClientError, RuntimeError, TimeoutError) as error:
                self.failed += 1
                if self.failed <= 3:
                    print(f"connect failed: {error!r}", file=sys.stderr, flush=True)
                return None
        self.connected += 1
        return ws

    async def listen(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data: str = message.data
            if data == "2":  # Engine.IO ping: answer, or the server drops the socket
                await ws.send_str("3")
            elif data.startswith("42"):
                received = time.monotonic()
                _, payload = json.loads(data[2:])
                self.receipts[payload["event_id"]].append(received)
        self.dropped += 1


async def main(url: str, secret: str, first_user: int, users: int, per_user: int) -> None:
    clients = Clients(url, secret)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        opening = [
            clients.open(session, user_id(first_user + u), gate)
            for _ in range(per_user)
            for u in range(users)
        ]
        sockets = [ws for ws in await asyncio.gather(*opening) if ws is not None]
        listeners = [asyncio.ensure_future(clients.listen(ws)) for ws in sockets]
        print(json.dumps({"connected": clients.connected, "failed": clients.failed}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        print(json.dumps({"receipts": clients.receipts, "dropped": clients.dropped}), flush=True)
        for listener in listeners:
            listener.cancel()
        # No closing handshakes: leaving the session drops every connection at once.


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one descriptor per socket
    url_arg, secret_arg, first, count, per = sys.argv[1:6]
    asyncio.run(main(url_arg, secret_arg, int(first), int(count), int(per)))
