"""The whole product as `just up` runs it (`python -m taskflow.local`), on free ports, with the
database of the chosen backing, and its users and live (Socket.IO) clients."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
import socketio
from taskflow.config import Ports

from bench.machine import REPO_ROOT

READY_LINE = "Press Ctrl-C to stop."
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0
PASSWORD = "benchmark password of some length"
# Settings a developer's shell may hold that must not leak into the benchmarked product.
UNLIMITED = "1000000000/1"
INHERITED_SETTINGS = ("BROKER_URL", "CREATE_TASK_URL", "BROADCAST_URL", "DATABASE_URL")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], object], *, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@dataclass(frozen=True)
class User:
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Product:
    """`python -m taskflow.local` with every port free, its output in `<workdir>/product.log`."""

    def __init__(self, workdir: Path, database_url: str, extra_env: dict[str, str]) -> None:
        self.ports = Ports(**{name: free_port() for name in asdict(Ports())})
        self.log_path = workdir / "product.log"
        self.database_url = database_url
        env = {k: v for k, v in os.environ.items() if k not in INHERITED_SETTINGS}
        env |= {f"TASKFLOW_PORT_{name.upper()}": str(p) for name, p in asdict(self.ports).items()}
        env |= {
            "TASKFLOW_DATA_DIR": str(workdir / "data"),
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
            # The benchmarks load the pipeline far beyond one person's pace: the per-user limits
            # stay in the path (their cost is measured) but never refuse.
            "TASKFLOW_RATE_LIMIT_API": UNLIMITED,
            "TASKFLOW_RATE_LIMIT_CHAT": UNLIMITED,
            **extra_env,
        }
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "taskflow.local"],
                env=env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.session = requests.Session()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, name)}"

    @property
    def web(self) -> str:
        return self.url("web")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"the product exited:\n{self.log_path.read_text()[-3000:]}")
            return READY_LINE in self.log_path.read_text()

        wait_until(ready, what="the product to start", timeout=START_TIMEOUT_SECONDS)

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
        the machine shared, CPU per command says more than wall time (PostgreSQL's own
        processes are not below the runner and not counted)."""
        total_ticks = 0
        for pid in {self.process.pid, *_descendants(self.process.pid)}:
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total_ticks += int(fields[11]) + int(fields[12])
        return total_ticks / CLOCK_TICKS

    def stop(self) -> None:
        """Ctrl-C, as a developer stops `just up`; whatever is left after that is killed."""
        children = _descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_product(
    workdir: Path, database_url: str, extra_env: dict[str, str] | None = None
) -> Iterator[Product]:
    product = Product(workdir, database_url, extra_env or {})
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


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (the runner's children live in their own
    sessions, so a process group does not cover them)."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children[parent].append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children[todo.pop()]:
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
