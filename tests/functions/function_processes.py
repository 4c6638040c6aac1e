"""Run functions as real processes and stand in for the broker ingress (shared by the fixtures
of tests/functions/conftest.py and by other test folders).

- `FunctionProcesses`: `processes(name, env) -> base_url` starts functions/<name>/main.py (target
  <name>) under the functions-framework CLI on a free port and waits until it listens;
  `processes.stop(base_url)` kills it (and its gunicorn worker) as a crash would.
- `CapturingBroker`: an HTTP server standing in for the broker ingress `{BROKER_URL}/{topic}`;
  it records every CloudEvent it receives.
- `web_command(port, *options)`: what deploy/Dockerfile runs for the web app, on a local port
  (a function's is taskflow_dev.local.processes.function_command).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cloudevents.http import CloudEvent, from_http
from metrics_ports import metrics_env, serves_metrics_at
from sender_keys import known_as
from taskflow_dev.local.launch import deployed_gunicorn, free_port
from taskflow_dev.local.processes import function_command

REPO_ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "functions-test-secret-of-at-least-32-bytes"
START_TIMEOUT_SECONDS = 30.0


def web_command(port: int, *options: str) -> list[str]:
    """What deploy/Dockerfile runs for the web app (REST API, chat), on a local port; `options`
    are more gunicorn options."""
    return deployed_gunicorn("taskflow.entrypoints.api:create_app()", port, *options)


class FunctionProcesses:
    """Starts functions as subprocesses of the functions-framework CLI and always stops them."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def __call__(self, name: str, env: dict[str, str] | None = None) -> str:
        port = free_port()
        log_path = self._log_dir / f"{name}-{port}.log"
        # Its metrics on a port of its own, as the images have (metrics_ports.scrape reads it).
        metrics, metrics_at = metrics_env()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                function_command(name, port),
                env={**os.environ, "PYTHONUNBUFFERED": "1", **metrics, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                # Its own process group, so stopping it also stops gunicorn's worker.
                start_new_session=True,
            )
        base_url = serves_metrics_at(known_as(f"http://127.0.0.1:{port}", name), metrics_at)
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
