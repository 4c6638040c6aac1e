"""Live sync at scale (issue 13): one broadcast-update instance, started as deployed, holding
10,000 authenticated idle Socket.IO connections from 1,000 users (10 each), while CloudEvents
arrive at 200/s through its event door (`POST /`, as the broker delivers them).

Fan-out latency of an event: from just before its POST to the moment the last of its user's
sockets received it (every socket must receive it; an event that misses one is counted as
incomplete). RSS is the server process's peak while connected and under events. The sockets
live in a few client processes speaking raw Engine.IO over aiohttp (bench/socket_clients.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import aiohttp
import requests
from cloudevents.conversion import to_binary
from taskflow import catalogue
from taskflow.adapters import sender_identity
from taskflow.domain.model import Task
from taskflow_dev.local.launch import free_port, wait_until
from taskflow_dev.local.processes import function_command

from bench import machine
from bench.context import Context
from bench.report import Result
from bench.socket_clients import CONNECT_CONCURRENCY, user_id
from bench.stats import summary

GOAL_P99_MS = 100.0
GOAL_RSS_MB = 300.0
EVENTS_PER_SECOND = 200.0
SOCKETS_PER_USER = 10
CLIENT_PROCESSES = 2
# The goal's size, also in a quick run: the point is 10,000 sockets.
USERS = 1000
SECRET = "bench-socket-secret-of-at-least-32-bytes"
# The event door accepts only deliveries the router signed (adapters/sender_identity.py): the
# benchmark posts as the router does, with a key of its own given to the server.
DELIVERY_KEY = "bench-socket-delivery-key-of-the-router-0123"
AS_ROUTER = sender_identity.Signer(sender_identity.ROUTER, DELIVERY_KEY)
AUDIENCE = sender_identity.service_audience("taskflow", "broadcast-update")
START_TIMEOUT_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 600.0
# After the last POST: how long arrivals still in flight are waited for.
DRAIN_SECONDS = 3.0


@dataclass
class Sent:
    user: str
    sent_at: float  # time.monotonic() just before the POST
    status: int = 0


def run(context: Context) -> Result:
    users = USERS
    seconds = context.scaled(60, 15)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "JWT_SECRET": SECRET,
        "TASKFLOW_DELIVERY_KEY": DELIVERY_KEY,
        "TASKFLOW_DATA_DIR": str(context.workdir),
        "DATABASE_URL": f"sqlite:///{context.workdir / 'taskflow.db'}",
        "PYTHONUNBUFFERED": "1",
    }
    log = (context.workdir / "product.log").open("wb")
    server = subprocess.Popen(
        function_command("broadcast_update", port),
        env=env,
        cwd=machine.REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    clients: list[subprocess.Popen[str]] = []
    try:
        wait_until(
            lambda: _healthy(url, server),
            what="broadcast-update to start",
            timeout=START_TIMEOUT_SECONDS,
        )
        rss_started = _rss_mb(server.pid)
        started = time.monotonic()
        clients = _start_clients(url, users)
        opened = [_read_json(client.stdout, CONNECT_TIMEOUT_SECONDS) for client in clients]
        connect_seconds = time.monotonic() - started
        connections = sum(o["connected"] for o in opened)
        failed = sum(o["failed"] for o in opened)
        cpu_before = _cpu_seconds(server.pid)
        with _PeakRss(server.pid) as peak:
            rss_connected = _rss_mb(server.pid)
            events = _events(users, int(seconds * EVENTS_PER_SECOND))
            sent = asyncio.run(_send(url, events))
            time.sleep(DRAIN_SECONDS)
        cpu_seconds = _cpu_seconds(server.pid) - cpu_before
        load_average = machine.load_average()
        receipts: dict[str, list[float]] = {}
        dropped = 0
        for client in clients:
            assert client.stdin is not None
            client.stdin.write("stop\n")
            client.stdin.flush()
            answer = _read_json(client.stdout, 120.0)
            dropped += answer["dropped"]
            for event_id, times in answer["receipts"].items():
                receipts.setdefault(event_id, []).extend(times)
    finally:
        for client in clients:
            client.kill()
            client.wait()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()

    refused = sum(1 for s in sent.values() if s.status != 202)
    fanout: list[float] = []
    incomplete = 0
    for event_id, s in sent.items():
        arrivals = receipts.get(event_id, [])
        if s.status != 202 or len(arrivals) < SOCKETS_PER_USER:
            incomplete += 1
            continue
        fanout.append((max(arrivals) - s.sent_at) * 1000)
    figures = summary(fanout) if fanout else {"p50_ms": None, "p99_ms": None, "max_ms": None}
    rss_mb = round(max(peak.mb, rss_connected), 1)
    p99 = figures["p99_ms"]
    rows = [
        {
            "connections": connections,
            "users": users,
            "connect_s": round(connect_seconds, 1),
            "events": len(sent),
            "events_per_s": EVENTS_PER_SECOND,
            "incomplete": incomplete,
            "fanout_p50_ms": figures["p50_ms"],
            "fanout_p99_ms": p99,
            "fanout_max_ms": figures["max_ms"],
            "rss_mb": rss_mb,
            "met_p99": p99 is not None and p99 <= GOAL_P99_MS and incomplete == 0,
            "met_rss": rss_mb <= GOAL_RSS_MB,
        }
    ]
    return Result(
        "socket",
        "broadcast-update",
        rows,
        samples={"fan-out": fanout},
        details={
            "connections": connections,
            "fanout_p99_ms": p99,
            "rss_mb": rss_mb,
            "load_average": load_average,
            "connect_failures": failed,
            "sockets_dropped": dropped,
            "refused_deliveries": refused,
            "rss_started_mb": rss_started,
            "rss_connected_mb": rss_connected,
            "server_cpu_ms_per_event": round(cpu_seconds * 1000 / max(len(sent), 1), 3),
            "seconds_of_events": seconds,
            "sockets_per_user": SOCKETS_PER_USER,
            "client_processes": CLIENT_PROCESSES,
            "handshakes_in_flight_per_client": CONNECT_CONCURRENCY,
        },
        notes=[
            f"goals: fan-out p99 <= {GOAL_P99_MS:g} ms to all {SOCKETS_PER_USER} sockets of "
            f"the user, RSS <= {GOAL_RSS_MB:g} MB (server process peak, 10^6 bytes)",
            "fan-out: POST to the event door -> the last of the user's sockets received it",
            f"load average right after the events: {load_average}",
        ],
    )


def _healthy(url: str, server: subprocess.Popen[bytes]) -> bool:
    if server.poll() is not None:
        raise RuntimeError("broadcast-update exited; see its product log")
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _start_clients(url: str, users: int) -> list[subprocess.Popen[str]]:
    share = -(-users // CLIENT_PROCESSES)
    clients = []
    for first in range(0, users, share):
        clients.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.socket_clients",
                    url,
                    SECRET,
                    str(first),
                    str(min(share, users - first)),
                    str(SOCKETS_PER_USER),
                ],
                cwd=machine.REPO_ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    return clients


def _read_json(stream: IO[str] | None, timeout: float) -> dict[str, Any]:
    """The next line a client prints, as JSON; a client that dies or hangs fails the run."""
    assert stream is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines or not lines[0]:
        raise RuntimeError("a socket client process ended or hung without answering")
    return json.loads(lines[0])


def _events(users: int, count: int) -> list[tuple[str, dict[str, str], bytes]]:
    """(user, headers, body) of `count` task.created events for users picked at random,
    built before the clock starts."""
    chooser = random.Random(13)
    now = datetime.now(UTC)
    built = []
    for number in range(count):
        user = user_id(chooser.randrange(users))
        task = Task.new(user, f"socket bench task {number}", now=now)
        task.id = number + 1
        data = {
            "event_type": "created",
            "task_id": task.id,
            "task_data": task.to_dict(),
            "user_id": user,
            "timestamp": now.isoformat(),
        }
        event = catalogue.new_event(
            catalogue.TASK_CREATED, data, user_id=user, source="bench/socket"
        )
        headers, body = to_binary(event)
        built.append((user, dict(headers), body))
    return built


async def _send(url: str, events: list[tuple[str, dict[str, str], bytes]]) -> dict[str, Sent]:
    """POST each event at its slot of a fixed schedule (open loop: a slow answer does not
    delay the next event)."""
    sent: dict[str, Sent] = {}
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def post(user: str, headers: dict[str, str], body: bytes) -> None:
            record = sent[headers["ce-id"]] = Sent(user, time.monotonic())
            # Signed as it is sent: a token lives 60 s, the full run's events last as long.
            signed = {**headers, **AS_ROUTER.headers(AUDIENCE)}
            async with session.post(url + "/", headers=signed, data=body) as answer:
                record.status = answer.status
                await answer.read()

        start = time.monotonic()
        for number, (user, headers, body) in enumerate(events):
            delay = start + number / EVENTS_PER_SECOND - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(post(user, headers, body)))
        await asyncio.gather(*tasks)
    return sent


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) * 1024 / 1e6, 1)
    return 0.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _PeakRss:
    """The highest RSS of a process, sampled twice a second while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.5):
            self.mb = max(self.mb, _rss_mb(self.pid))

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.mb = max(self.mb, _rss_mb(self.pid))
