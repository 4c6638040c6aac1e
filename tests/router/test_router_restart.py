"""The router keeps what it accepted: a `python -m taskflow_dev.router` process stopped mid-stream,
gently or by SIGKILL, delivers every accepted event after it is started again, once each, in each
user's order."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from router_harness import (
    Delivery,
    Subscribers,
    backlog,
    broker_yaml,
    dead_letters,
    event,
    send,
    trigger_yaml,
)
from sender_keys import KEYS, ROUTER, known_as
from taskflow.config import REPO_ROOT
from taskflow_dev.local.launch import free_port, wait_until
from werkzeug.wrappers import Response

USERS = ("alice", "bob")
EVENTS_PER_USER = 5
# Retries far apart, so the router is stopped while a delivery waits between two attempts.
MANIFESTS = broker_yaml("task-events", retry=10, delay="PT0.5S") + trigger_yaml(
    "audit", "task-events", "write-audit", "[{prefix: {type: com.taskflow.task.}}]"
)


class RouterProcess:
    """`python -m taskflow_dev.router` on a free port, with the test's manifests and data folder."""

    def __init__(self, tmp_path: Path, subscriber_url: str) -> None:
        eventing_dir = tmp_path / "eventing"
        eventing_dir.mkdir(exist_ok=True)
        (eventing_dir / "eventing.yaml").write_text(MANIFESTS)
        port = free_port()
        self.url = known_as(f"http://127.0.0.1:{port}", ROUTER)
        self._log = (tmp_path / f"router-{port}.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "taskflow_dev.router",
                "--port",
                str(port),
                "--eventing-dir",
                str(eventing_dir),
                "--subscriber",
                f"write-audit={subscriber_url}",
            ],
            env={"PATH": "/usr/bin:/bin", "TASKFLOW_DATA_DIR": str(tmp_path / "data"), **KEYS},
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, what="the router to start")

    def _answers(self) -> bool:
        assert self.process.poll() is None, "the router exited"
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self, signum: int) -> None:
        self.process.send_signal(signum)
        self.process.wait(timeout=30)
        self._log.close()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        self._log.close()


class Audit:
    """write-audit: acknowledges while up, answers 503 while down; records what it acknowledged."""

    def __init__(self, subscribers: Subscribers) -> None:
        self.up = threading.Event()
        self._lock = threading.Lock()
        self._acknowledged: list[str] = []
        self.server = subscribers("write-audit", self._respond)

    def _respond(self, delivery: Delivery) -> Response:
        if not self.up.is_set():
            return Response(status=503)
        with self._lock:
            self._acknowledged.append(delivery.event["id"])
        return Response(status=202)

    def acknowledged(self, user: str) -> list[str]:
        with self._lock:
            return [id_ for id_ in self._acknowledged if id_.startswith(f"{user}-")]


@pytest.fixture
def routers() -> Iterator[list[RouterProcess]]:
    started: list[RouterProcess] = []
    yield started
    for router in started:
        router.kill()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_a_restarted_router_delivers_every_accepted_event_once_in_user_order(
    tmp_path: Path, subscribers: Subscribers, routers: list[RouterProcess], stop_signal: int
) -> None:
    audit = Audit(subscribers)
    audit.up.set()
    first = RouterProcess(tmp_path, audit.server.url)
    routers.append(first)

    def publish(n: int) -> None:
        for user in USERS:
            sent = event("com.taskflow.task.updated", user=user, id_=f"{user}-{n}")
            assert send(first.url, "task-events", sent).status_code == 202

    publish(0)
    wait_until(lambda: backlog(first.url) == 0, what="the first events to be delivered")

    # write-audit goes down: each user's next event waits between retries, the others queue.
    audit.up.clear()
    for n in range(1, EVENTS_PER_USER):
        publish(n)
    wait_until(lambda: {"alice-1", "bob-1"} <= set(audit.server.ids()), what="the failing attempts")
    first.stop(stop_signal)

    audit.up.set()
    second = RouterProcess(tmp_path, audit.server.url)
    routers.append(second)

    expected = {user: [f"{user}-{n}" for n in range(EVENTS_PER_USER)] for user in USERS}
    wait_until(
        lambda: (
            all(len(audit.acknowledged(user)) >= EVENTS_PER_USER for user in USERS)
            and backlog(second.url) == 0
        ),
        what="every event after the restart",
    )
    assert {user: audit.acknowledged(user) for user in USERS} == expected
    assert dead_letters(second.url) == []
