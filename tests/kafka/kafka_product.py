"""The whole product run the way `just up --kafka` runs it (`python -m taskflow.local --kafka`) on
free ports, against the test Kafka and with consumer groups of its own, plus what a user sees of
it: the REST API and a Socket.IO client of broadcast-update."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import requests
import socketio
from taskflow.config import REPO_ROOT, Ports

START_TIMEOUT_SECONDS = 120.0
READY_LINE = "Press Ctrl-C to stop."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], object], *, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if condition():
                return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (the runner's children have their own sessions)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


class Product:
    """`python -m taskflow.local --kafka` with its own ports, data folder and consumer groups."""

    def __init__(self, tmp_path: Path, kafka_bootstrap: str, group_prefix: str) -> None:
        self.ports = Ports(**{name: free_port() for name in asdict(Ports())})
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in ("BROKER_URL", "CREATE_TASK_URL", "BROADCAST_URL", "DATABASE_URL")
        }
        env |= {f"TASKFLOW_PORT_{name.upper()}": str(p) for name, p in asdict(self.ports).items()}
        env |= {
            "TASKFLOW_DATA_DIR": str(tmp_path / "data"),
            "PYTHONUNBUFFERED": "1",
            "KAFKA_BOOTSTRAP": kafka_bootstrap,
            "TASKFLOW_KAFKA_GROUP_PREFIX": group_prefix,
        }
        self._log_path = tmp_path / "product.log"
        self._log = self._log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taskflow.local", "--kafka"],
            env=env,
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self._log_path.read_text(errors="replace")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, name)}"

    def wait_ready(self) -> None:
        wait_until(
            lambda: READY_LINE in self.output() or self.process.poll() is not None,
            what="the product to start",
            timeout=START_TIMEOUT_SECONDS,
        )
        assert READY_LINE in self.output(), self.output()[-4000:]

    def router_pid(self) -> int:
        (pid,) = [
            pid
            for pid in descendants(self.process.pid)
            if b"taskflow.router" in _cmdline(pid) and pid != self.process.pid
        ]
        return pid

    def router_health(self) -> dict:
        answer = requests.get(f"{self.url('router')}/healthz", timeout=15)
        answer.raise_for_status()
        return answer.json()

    def router_health_or_error(self) -> object:
        try:
            return self.router_health()
        except requests.RequestException as error:
            return error

    def dead_letters(self) -> list[dict]:
        return requests.get(f"{self.url('router')}/dead-letters", timeout=5).json()

    def stop(self) -> None:
        children = descendants(self.process.pid)
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class User:
    """A signed-up user of the product's REST API."""

    def __init__(self, web: str) -> None:
        self.web = web
        answer = requests.post(
            f"{web}/api/auth/signup",
            json={"email": f"{free_port()}@example.com", "password": "correct horse battery"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        self.id: str = body["user_id"]
        self.token: str = body["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def create_task(self, fields: dict) -> str:
        answer = requests.post(
            f"{self.web}/api/{self.id}/tasks", json=fields, headers=self.auth, timeout=30
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def task_ids(self) -> list[str]:
        answer = requests.get(
            f"{self.web}/api/{self.id}/tasks?status=all&page_size=100",
            headers=self.auth,
            timeout=10,
        )
        answer.raise_for_status()
        return [str(task["id"]) for task in answer.json()["items"]]

    def history(self, task_id: str) -> list[dict]:
        answer = requests.get(
            f"{self.web}/api/{self.id}/tasks/{task_id}/history", headers=self.auth, timeout=10
        )
        answer.raise_for_status()
        return answer.json()["items"]


class LiveClient:
    """A Socket.IO client of broadcast-update: counts each pushed event per (name, task id)."""

    def __init__(self, broadcast_url: str, token: str) -> None:
        self._lock = threading.Lock()
        self.pushed: Counter[tuple[str, str]] = Counter()
        self.sio = socketio.Client(reconnection=True)
        self.sio.on("*", self._record)
        self.sio.connect(
            broadcast_url, transports=["websocket"], auth={"token": token}, wait_timeout=10
        )

    def _record(self, name: str, data: dict) -> None:
        with self._lock:
            self.pushed[(name, str(data.get("task_id")))] += 1

    def counts(self, name: str) -> dict[str, int]:
        with self._lock:
            return {task: n for (event, task), n in self.pushed.items() if event == name}

    def close(self) -> None:
        self.sio.disconnect()
