"""The whole product run the way `just up --kafka` runs it (`python -m taskflow_dev.local --kafka`)
on free ports, against the test Kafka and with consumer groups of its own, plus what a user sees of
it: the REST API and a Socket.IO client of broadcast-update."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import requests
import socketio
from taskflow_dev.local.launch import LaunchedRunner, descendants, free_port


class Product(LaunchedRunner):
    """`python -m taskflow_dev.local --kafka` with its own ports, data folder, consumer groups."""

    def __init__(self, tmp_path: Path, kafka_bootstrap: str, group_prefix: str) -> None:
        super().__init__(
            tmp_path,
            {"KAFKA_BOOTSTRAP": kafka_bootstrap, "TASKFLOW_KAFKA_GROUP_PREFIX": group_prefix},
            ["--kafka"],
        )

    def router_pid(self) -> int:
        (pid,) = [
            pid
            for pid in descendants(self.process.pid)
            if b"taskflow_dev.router" in _cmdline(pid) and pid != self.process.pid
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
