"""The whole product as `just up` runs it (`python -m taskflow_dev.local`), on free ports, with the
database of the chosen backing, and its users and live (Socket.IO) clients."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import socketio
from taskflow_dev.local.launch import RATE_LIMITS_OUT_OF_REACH, LaunchedRunner, descendants

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PASSWORD = "benchmark password of some length"


@dataclass(frozen=True)
class User:
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Product(LaunchedRunner):
    """`python -m taskflow_dev.local` with every port free, its output in <workdir>/product.log."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        extra_env: dict[str, str],
        arguments: Sequence[str] = (),
    ) -> None:
        self.database_url = database_url
        env = {
            "DATABASE_URL": database_url,
            **RATE_LIMITS_OUT_OF_REACH,
            **extra_env,
        }
        super().__init__(workdir, env, arguments)
        self.session = requests.Session()

    @property
    def web(self) -> str:
        return self.url("web")

    def sign_up(self) -> User:
        answer = self.session.post(
            f"{self.web}/api/auth/signup",
            json={"email": f"bench-{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD},
            timeout=30,
        )
        answer.raise_for_status()
        body = answer.json()
        return User(body["user_id"], body["token"])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the runner and every process below it: with
        the machine shared, CPU per command says more than wall time (PostgreSQL's and Kafka's
        own processes are not below the runner and not counted)."""
        total_ticks = 0
        for pid in {self.process.pid, *descendants(self.process.pid)}:
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total_ticks += int(fields[11]) + int(fields[12])
        return total_ticks / CLOCK_TICKS


@contextlib.contextmanager
def running_product(
    workdir: Path,
    database_url: str,
    extra_env: dict[str, str] | None = None,
    arguments: Sequence[str] = (),
) -> Iterator[Product]:
    product = Product(workdir, database_url, extra_env or {}, arguments)
    try:
        product.wait_ready()
        yield product
    finally:
        product.stop()


@dataclass
class Received:
    name: str
    data: dict[str, Any]
    at_monotonic: float
    at_epoch: float


@dataclass
class LiveClient:
    """One user's Socket.IO connection to broadcast-update; stamps every push on arrival."""

    url: str
    user: User
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record)
        self.sio.connect(
            self.url, transports=["websocket"], auth={"token": self.user.token}, wait_timeout=30
        )

    def _record(self, name: str, data: dict[str, Any]) -> None:
        arrived = Received(name, data, time.perf_counter(), time.time())
        with self._lock:
            self.received.append(arrived)

    def pushes(self, name: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.name == name]

    def close(self) -> None:
        self.sio.disconnect()
