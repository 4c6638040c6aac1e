"""Real processes over real HTTP: each function runs under the functions-framework CLI exactly as
it is deployed, against a migrated SQLite file, and publishes to a capturing broker ingress.

Reusable fixtures:
- `start_function(name, env) -> base_url` starts functions/<name>/main.py (target <name>) on a free
  port and waits until it listens; `start_function.stop(base_url)` kills it (tests of restarts).
  Every process is killed at the end of the test.
- `broker`: an HTTP server standing in for the broker ingress `{BROKER_URL}/{topic}`; it records
  every CloudEvent it receives.
- `stateless_env`: BROKER_URL and JWT_SECRET for a function without a database;
  `function_env` adds DATABASE_URL (the root conftest's `database_url`: a migrated SQLite file,
  and a migrated PostgreSQL database).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cloudevents.http import CloudEvent, from_http

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_FRAMEWORK = REPO_ROOT / ".venv" / "bin" / "functions-framework"
JWT_SECRET = "functions-test-secret-of-at-least-32-bytes"
START_TIMEOUT_SECONDS = 30.0
WAIT_TIMEOUT_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = WAIT_TIMEOUT_SECONDS):
    """Poll `condition` until it holds; fail naming `what` when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class FunctionProcesses:
    """Starts functions as subprocesses of the functions-framework CLI and always stops them."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def __call__(self, name: str, env: dict[str, str] | None = None) -> str:
        port = free_port()
        log_path = self._log_dir / f"{name}-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    str(FUNCTIONS_FRAMEWORK),
                    "--source",
                    str(REPO_ROOT / "functions" / name / "main.py"),
                    "--target",
                    name,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                # Its own process group, so stopping it also stops gunicorn's worker.
                start_new_session=True,
            )
        base_url = f"http://127.0.0.1:{port}"
        self._running[base_url] = process
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop(base_url)
                raise RuntimeError(f"{name} did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.1)
        return base_url

    def stop(self, base_url: str) -> None:
        """Kill the function abruptly, as a crash would: nothing gets to finish."""
        process = self._running.pop(base_url)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for base_url in list(self._running):
            self.stop(base_url)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class Received:
    topic: str
    event: CloudEvent


class CapturingBroker:
    """The broker ingress as the outbox relay sees it: POST /{topic} with a CloudEvent -> 202."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        broker = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event = from_http(dict(self.headers), body)
                with broker._lock:
                    broker.received.append(Received(self.path.rsplit("/", 1)[-1], event))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def events(self, type_: str, topic: str | None = None) -> list[CloudEvent]:
        with self._lock:
            return [
                r.event
                for r in self.received
                if r.event["type"] == type_ and (topic is None or r.topic == topic)
            ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def start_function(tmp_path: Path) -> Iterator[FunctionProcesses]:
    processes = FunctionProcesses(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def broker() -> Iterator[CapturingBroker]:
    capturing = CapturingBroker()
    try:
        yield capturing
    finally:
        capturing.close()


@pytest.fixture
def stateless_env(tmp_path: Path, broker: CapturingBroker) -> dict[str, str]:
    """For functions without a database: BROKER_URL, JWT_SECRET and a private data folder."""
    return {"BROKER_URL": broker.url, "JWT_SECRET": JWT_SECRET, "TASKFLOW_DATA_DIR": str(tmp_path)}


@pytest.fixture
def function_env(stateless_env: dict[str, str], database_url: str) -> dict[str, str]:
    return {**stateless_env, "DATABASE_URL": database_url}
