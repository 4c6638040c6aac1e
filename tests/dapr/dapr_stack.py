"""TaskFlow with every process behind its own daprd: the five functions under the
functions-framework CLI, the web app under gunicorn (the commands of deploy/Dockerfile, from
tests/functions/function_processes.py) and the local router, against the real Kafka, PostgreSQL
and the Dapr scheduler.

Each `DaprApp` keeps its ports for its whole life, so a test can stop and restart the app (or the
app and its sidecar) and every caller still finds it where it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from taskflow.config import FUNCTIONS, Ports
from taskflow_dev.local.dapr import WEB_APP_ID
from taskflow_dev.local.launch import free_port, wait_until
from taskflow_dev.local.processes import function_command

# The web app's command of deploy/Dockerfile lives with the process helpers of tests/functions.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from function_processes import web_command

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Process:
    """One child in its own process group (gunicorn forks workers), logging to a file."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, *, crash: bool = False) -> None:
        """SIGTERM and wait (SIGKILL when it lingers), or SIGKILL at once as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL if crash else signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        # A forked worker may outlive its master for a moment.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)


@dataclass(frozen=True)
class SidecarCall:
    method: str
    path: str
    status: int


class SidecarCallRecorder:
    """Sits between a daprd and its app: forwards every call daprd makes (job callbacks, cron
    bindings) to the app and records it with the app's answer, so a test sees what Dapr called
    and what the app said."""

    def __init__(self, app_port: int) -> None:
        self.calls: list[SidecarCall] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler(app_port))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def calls_to(self, prefix: str) -> list[SidecarCall]:
        with self._lock:
            return [call for call in self.calls if call.path.startswith(prefix)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler(self, app_port: int) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Forward(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                try:
                    answer = requests.request(
                        self.command,
                        f"http://127.0.0.1:{app_port}{self.path}",
                        data=body,
                        headers=headers,
                        timeout=60,
                    )
                    status, content = answer.status_code, answer.content
                    content_type = answer.headers.get("Content-Type", "text/plain")
                except requests.RequestException:
                    status, content, content_type = 502, b"", "text/plain"
                with recorder._lock:
                    recorder.calls.append(SidecarCall(self.command, self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _forward

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test output is for failures."""

        return Forward


@dataclass
class DaprApp:
    """An app process and its daprd (started with scripts/dapr.sh daprd)."""

    app_id: str
    argv: Callable[[int], list[str]]
    app_env: dict[str, str]
    sidecar_env: dict[str, str]
    log_dir: Path
    app_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    internal_grpc_port: int = field(default_factory=free_port)
    app: Process | None = None
    sidecar: Process | None = None
    # When set, daprd calls the app through this proxy, which records each call.
    proxy: SidecarCallRecorder | None = None

    @property
    def sidecar_app_port(self) -> int:
        return self.proxy.port if self.proxy else self.app_port

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    @property
    def sidecar_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        """The app first: it waits for its sidecar's components (secrets) before serving, and
        daprd waits for the app's port before it reports healthy."""
        self.start_app(wait=False)
        self.start_sidecar()
        self.wait_until_app_serves()

    def start_app(self, *, wait: bool = True) -> None:
        env = {
            **self.app_env,
            "PYTHONUNBUFFERED": "1",
            "DAPR_HTTP_PORT": str(self.http_port),
            "DAPR_GRPC_PORT": str(self.grpc_port),
        }
        self.app = Process(self.argv(self.app_port), env, self.log_dir / f"{self.app_id}.log")
        if wait:
            self.wait_until_app_serves()

    def start_sidecar(self) -> None:
        command = [
            str(REPO_ROOT / "scripts" / "dapr.sh"),
            "daprd",
            "--app-id",
            self.app_id,
            "--app-port",
            str(self.sidecar_app_port),
            "--dapr-http-port",
            str(self.http_port),
            "--dapr-grpc-port",
            str(self.grpc_port),
            "--dapr-internal-grpc-port",
            str(self.internal_grpc_port),
            "--log-level",
            "info",
        ]
        env = {**os.environ, **self.sidecar_env}
        self.sidecar = Process(command, env, self.log_dir / f"{self.app_id}.daprd.log")
        wait_until(
            lambda: self._sidecar_healthy() or not self.sidecar.running(),
            what=f"daprd of {self.app_id}",
            timeout=START_TIMEOUT_SECONDS,
        )
        if not self._sidecar_healthy():
            raise RuntimeError(f"daprd of {self.app_id} did not start:\n{self.log_tail('daprd')}")

    def wait_until_app_serves(self) -> None:
        """Until GET /healthz answers: the function loaded, the web app read its secrets."""
        wait_until(
            lambda: self._app_answers() or not (self.app and self.app.running()),
            what=f"{self.app_id} to serve",
            timeout=START_TIMEOUT_SECONDS,
        )
        if not self._app_answers():
            raise RuntimeError(f"{self.app_id} did not start:\n{self.log_tail()}")

    def stop_app(self, *, crash: bool = False) -> None:
        if self.app is not None:
            self.app.stop(crash=crash)
            self.app = None

    def stop_sidecar(self) -> None:
        if self.sidecar is not None:
            self.sidecar.stop()
            self.sidecar = None

    def stop(self) -> None:
        self.stop_app()
        self.stop_sidecar()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, kind: str = "", lines: int = 60) -> str:
        name = f"{self.app_id}.{kind}.log" if kind else f"{self.app_id}.log"
        path = self.log_dir / name
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _sidecar_healthy(self) -> bool:
        try:
            return requests.get(f"{self.sidecar_url}/v1.0/healthz", timeout=2).status_code == 204
        except requests.RequestException:
            return False

    def _app_answers(self) -> bool:
        try:
            return requests.get(f"{self.app_url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False


# Never handed to an app: only daprd's secret store knows them.
SECRET_NAMES = ("DATABASE_URL", "JWT_SECRET", "OPENAI_API_KEY", "TASKFLOW_SECRETS_FILE")


class Stack:
    """The router and one DaprApp per function plus the web app, on fixed free ports."""

    def __init__(self, base_env: dict[str, str], sidecar_env: dict[str, str], root: Path) -> None:
        # Dapr's app API token, as `just up --dapr` makes one: daprd sends it to its app, and the
        # timer doors (cron bindings, job callbacks) take nothing else from a sidecar.
        sidecar_env = {**sidecar_env, "APP_API_TOKEN": secrets.token_urlsafe(32)}
        self.data_dir = root / "data"
        self.log_dir = root / "logs"
        self.log_dir.mkdir(parents=True)
        self.router_port = free_port()
        self.functions = {
            name: DaprApp(
                name.replace("_", "-"),
                lambda port, name=name: function_command(name, port),
                {},
                sidecar_env,
                self.log_dir,
            )
            for name in FUNCTIONS
        }
        self.web = DaprApp(WEB_APP_ID, web_command, {}, sidecar_env, self.log_dir)
        send_reminder = self.functions["send_reminder"]
        send_reminder.proxy = SidecarCallRecorder(send_reminder.app_port)
        ports = Ports(
            web=self.web.app_port,
            router=self.router_port,
            mcp=free_port(),
            **{name: app.app_port for name, app in self.functions.items()},
        )
        self.env = {
            **{key: value for key, value in base_env.items() if key not in SECRET_NAMES},
            "TASKFLOW_DATA_DIR": str(self.data_dir),
            "BROKER_URL": f"http://127.0.0.1:{self.router_port}/taskflow",
            # Service invocation: the web app reaches create-task through its own sidecar.
            "CREATE_TASK_URL": f"{self.web.sidecar_url}/v1.0/invoke/create-task/method",
            "BROADCAST_URL": self.functions["broadcast_update"].app_url,
            # The router over Kafka (the Knative Kafka broker's stand-in), with consumer groups
            # of its own: a new group starts at the end of the topics.
            "TASKFLOW_ROUTER_BACKING": "kafka",
            "KAFKA_BOOTSTRAP": sidecar_env["KAFKA_BOOTSTRAP"],
            "TASKFLOW_KAFKA_GROUP_PREFIX": f"taskflow-dapr-tests-{secrets.token_hex(4)}-",
            # The reminder webhook of test_dapr_reminders is a local server.
            "TASKFLOW_WEBHOOK_ALLOW_LOCAL": "1",
            "APP_API_TOKEN": sidecar_env["APP_API_TOKEN"],
            **{f"TASKFLOW_PORT_{name.upper()}": str(port) for name, port in vars(ports).items()},
        }
        for app in self.apps:
            app.app_env = self.env
        self.router: Process | None = None
        self.running = False

    @property
    def apps(self) -> list[DaprApp]:
        return [*self.functions.values(), self.web]

    def app(self, app_id: str) -> DaprApp:
        (found,) = [app for app in self.apps if app.app_id == app_id]
        return found

    @property
    def api_url(self) -> str:
        return self.web.app_url

    def start(self) -> None:
        router = [
            sys.executable,
            "-m",
            "taskflow_dev.router",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.router_port),
        ]
        self.router = Process(router, self.env, self.log_dir / "router.log")
        for app in self.apps:
            app.start_app(wait=False)
        for app in self.apps:
            app.start_sidecar()
        for app in self.apps:
            app.wait_until_app_serves()
        wait_until(lambda: listening(self.router_port), what="the router", timeout=30)
        self.running = True

    def stop(self) -> None:
        self.running = False
        for app in self.apps:
            app.stop()
        if self.router is not None:
            self.router.stop()
            self.router = None
