"""Real infrastructure for the infra tests: the services of scripts/kafka.sh, scripts/dapr.sh and
scripts/postgres.sh, a daprd sidecar process, and a tiny HTTP app that records what daprd sends."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from cloudevents.http import CloudEvent
from taskflow import catalogue
from taskflow_dev.local.launch import free_port, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"
# A first run builds Dapr from source and fetches Kafka: minutes, not seconds.
SCRIPT_TIMEOUT_SECONDS = 3600
DAPRD_START_TIMEOUT_SECONDS = 90
# The names in dapr/components/local and the smoke app's subscription route.
PUBSUB = "kafka-pubsub"
SMOKE_APP_ID = "infra-smoke"
EVENTS_ROUTE = "/events"


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )


def exports_of(output: str) -> dict[str, str]:
    """The variables of a script's `env` output (`export NAME=value` lines)."""
    pairs = (line.removeprefix("export ").split("=", 1) for line in output.splitlines())
    return {name: value for name, value in pairs}


@contextmanager
def script_service(script: str, start_command: str = "start") -> Iterator[dict[str, str]]:
    """Start a script-managed service unless it already runs (a developer's own instance is left
    alone), yield the variables its `env` prints, and stop it afterwards only if started here."""
    already_running = run_script(script, "status").returncode == 0
    if not already_running:
        started = run_script(script, start_command)
        if started.returncode != 0:
            raise RuntimeError(f"{script} {start_command} failed:\n{started.stderr}")
    try:
        yield exports_of(run_script(script, "env").stdout)
    finally:
        if not already_running:
            run_script(script, "stop")


def delete_command(user_id: str, task_id: int) -> CloudEvent:
    """A small, valid CloudEvent of the catalogue that travels on task-events, keyed by its user."""
    return catalogue.new_event(
        catalogue.DELETE_TASK,
        {"user_id": user_id, "task_id": task_id},
        user_id=user_id,
        source="tests/infra",
    )


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingApp:
    """The application behind a daprd: answers Dapr's subscription discovery, accepts every
    delivery, and records each request so a test can wait for the one it expects."""

    subscriptions: list[dict[str, Any]]
    received: list[ReceivedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/dapr/subscribe":
                    self._answer(200, json.dumps(app.subscriptions).encode())
                else:
                    self._answer(404, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = ReceivedRequest(self.path, self.rfile.read(length))
                with app._lock:
                    app.received.append(request)
                # Dapr's pub/sub contract: SUCCESS acknowledges; jobs accept any 2xx.
                self._answer(200, json.dumps({"status": "SUCCESS"}).encode())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test output is for failures."""

        return Handler

    def requests_to(self, path: str) -> list[ReceivedRequest]:
        with self._lock:
            return [request for request in self.received if request.path == path]

    @contextmanager
    def serving(self) -> Iterator[int]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


@dataclass(frozen=True)
class Sidecar:
    app_id: str
    http_url: str


@contextmanager
def daprd(app_id: str, app_port: int, env: dict[str, str], log_file: Path) -> Iterator[Sidecar]:
    """One daprd on free ports, started the documented way (scripts/dapr.sh daprd), ready when its
    health endpoint answers; stopped and reaped afterwards."""
    http_port = free_port()
    command = [
        str(SCRIPTS / "dapr.sh"),
        "daprd",
        "--app-id",
        app_id,
        "--app-port",
        str(app_port),
        "--dapr-http-port",
        str(http_port),
        "--dapr-grpc-port",
        str(free_port()),
        "--dapr-internal-grpc-port",
        str(free_port()),
        "--log-level",
        "info",
    ]
    sidecar = Sidecar(app_id, f"http://127.0.0.1:{http_port}")
    with log_file.open("w") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=log, stderr=log
        )
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"daprd {app_id} exited:\n{_tail(log_file)}")
            return _is_healthy(sidecar)

        wait_until(
            healthy, what=f"daprd {app_id} to be healthy", timeout=DAPRD_START_TIMEOUT_SECONDS
        )
        yield sidecar
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _is_healthy(sidecar: Sidecar) -> bool:
    try:
        return requests.get(f"{sidecar.http_url}/v1.0/healthz", timeout=2).status_code == 204
    except requests.ConnectionError:
        return False


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
