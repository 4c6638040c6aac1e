"""The whole product as real processes on free ports, with a handle on each one to kill and restart.

`Stack(workdir, database_url)` starts what `just up` starts (specs/local-runner.md), from the
runner's own argv and environment (`taskflow_dev.local.child_specs`, `child_env`): the router, the
five functions, the MCP server, and the web app (here a process of its own, so it too can be
killed), plus the runner's two timers (outbox relay, reminder sweep). Unlike the runner, nothing
restarts by itself: a test kills and restarts (`restart`) each process when it chooses.

- `backing`: what carries the events between the functions: `"router"` (the local router and
  its SQLite event log) or `"kafka"` (the same router on Kafka at `kafka_bootstrap`, issue 4, with
  consumer groups of this stack's own).
- `deliveries_per_event`: above 1, every Trigger's subscriber is reached through a
  `DuplicatingProxy` that hands each delivery to the function that many times at once, as a
  broker redelivering after a lost acknowledgement would. The broker only knows subscriber
  addresses, so this works with any backing.
- `env`: extra settings for every process; `running_stack` passes `RATE_LIMITS_OUT_OF_REACH`
  unless told otherwise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
import sqlalchemy as sa
from sender_keys import NAMESPACE, ROUTER, as_router, known_as
from taskflow.adapters import database, orm
from taskflow.config import REPO_ROOT, Ports, Settings, load_settings
from taskflow_dev.local.__main__ import (
    RELAY_PERIOD_SECONDS,
    SWEEP_PERIOD_SECONDS,
    child_env,
    child_specs,
)
from taskflow_dev.local.launch import RATE_LIMITS_OUT_OF_REACH, free_port, wait_until
from taskflow_dev.local.processes import ChildSpec, answers_http
from taskflow_dev.local.timers import PingTimer, signed_for

JWT_SECRET = "reliability-test-secret-of-at-least-32-bytes"
START_TIMEOUT_SECONDS = 60.0
QUIET_TIMEOUT_SECONDS = 120.0
BACKINGS = ("router", "kafka")
# The load and duplicate tests stay on the SQLite router to keep the suite short; the fault test
# runs on every backing (specs/reliability.md).
LOAD_BACKINGS = ("router",)
# The router's own name of each backing (`python -m taskflow_dev.router --backing`).
ROUTER_BACKING = {"router": "sqlite", "kafka": "kafka"}
# The Trigger subscribers (eventing/*.yaml) a DuplicatingProxy can stand in front of.
SUBSCRIBERS = (
    "create-task",
    "spawn-recurrence",
    "send-reminder",
    "write-audit",
    "broadcast-update",
)


class Process:
    """One process of the product, in its own process group, logging to a file."""

    def __init__(self, spec: ChildSpec, env: Mapping[str, str], log_path: Path) -> None:
        self.spec = spec
        self._env = dict(env)
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def start(self) -> None:
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                list(self.spec.argv),
                env=self._env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self._process is None or self._process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")
            return answers_http(self.spec.url)

        wait_until(ready, what=f"{self.name} to answer HTTP", timeout=START_TIMEOUT_SECONDS)

    def kill(self) -> None:
        """SIGKILL the whole group (gunicorn's master and worker): nothing gets to finish."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=10)
        self._process = None

    def log_tail(self, characters: int = 4000) -> str:
        return self._log_path.read_text(errors="replace")[-characters:]


class DuplicatingProxy:
    """Stands in for a subscriber: forwards each delivery `copies` times at once and answers
    with the first 2xx answer (else the last one), so the broker sees one delivery."""

    def __init__(self, target: str, copies: int) -> None:
        self.target = target
        self.copies = copies
        self.answers: list[int] = []  # the status of every copy, for the test to inspect
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=copies * 16)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _forward(self, path: str, headers: dict[str, str], body: bytes) -> requests.Response:
        return requests.post(self.target + path, data=body, headers=headers, timeout=60)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {
                    key: value
                    for key, value in self.headers.items()
                    if key.lower() not in ("host", "content-length", "connection")
                }
                futures = [
                    proxy._pool.submit(proxy._forward, self.path, headers, body)
                    for _ in range(proxy.copies)
                ]
                answers: list[requests.Response] = []
                for future in futures:
                    try:
                        answers.append(future.result())
                    except requests.RequestException:
                        continue
                with proxy._lock:
                    proxy.answers.extend(answer.status_code for answer in answers)
                if not answers:
                    self.send_error(502)
                    return
                chosen = next((a for a in answers if a.status_code < 300), answers[-1])
                self.send_response(chosen.status_code)
                for key, value in chosen.headers.items():
                    if key.lower().startswith("ce-") or key.lower() == "content-type":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(chosen.content)))
                self.end_headers()
                self.wfile.write(chosen.content)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class Stack:
    def __init__(
        self,
        workdir: Path,
        database_url: str,
        *,
        backing: str = "router",
        kafka_bootstrap: str | None = None,
        deliveries_per_event: int = 1,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if backing not in BACKINGS:
            raise ValueError(f"unknown backing {backing!r}; known: {BACKINGS}")
        if (backing == "kafka") != (kafka_bootstrap is not None):
            raise ValueError("kafka_bootstrap is needed by, and only by, the kafka backing")
        self.workdir = workdir
        self.ports = Ports(**{name: free_port() for name in asdict(Ports())})
        defaults = load_settings()
        self.settings: Settings = dataclasses.replace(
            defaults,
            data_dir=workdir / "data",
            database_url=database_url,
            broker_url=f"http://127.0.0.1:{self.ports.router}/taskflow",
            create_task_url=self.url("create_task"),
            broadcast_url=self.url("broadcast_update"),
            jwt_secret=JWT_SECRET,
            ports=self.ports,
            router_backing=ROUTER_BACKING[backing],
            kafka_bootstrap=kafka_bootstrap or defaults.kafka_bootstrap,
        )
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        base_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("TASKFLOW_") and key not in ("OPENAI_API_KEY", "DATABASE_URL")
        }
        self.env = {
            **child_env(self.settings, self.ports, base_env),
            "JWT_SECRET": JWT_SECRET,
            # A new consumer group starts at the end of its topics, so a stack of its own reads
            # only its own events; the router keeps it across restarts, so it resumes there.
            "TASKFLOW_KAFKA_GROUP_PREFIX": f"taskflow-reliability-{uuid.uuid4().hex[:8]}-",
            **(env or {}),
        }
        self.proxies: dict[str, DuplicatingProxy] = {}
        if deliveries_per_event > 1:
            self.proxies = {
                name: DuplicatingProxy(self.url(name.replace("-", "_")), deliveries_per_event)
                for name in SUBSCRIBERS
            }
        self.processes: dict[str, Process] = {
            spec.name: Process(spec, self.env, workdir / f"{spec.name}.log")
            for spec in self._specs()
        }
        self._stopping = threading.Event()
        self._timers = [
            PingTimer(
                "outbox-relay",
                f"{self.url('create_task')}/relay",
                RELAY_PERIOD_SECONDS,
                self._stopping,
                signed_for(as_router, NAMESPACE, "create-task"),
            ),
            PingTimer(
                "reminder-sweep",
                f"{self.url('send_reminder')}/sweep",
                SWEEP_PERIOD_SECONDS,
                self._stopping,
                signed_for(as_router, NAMESPACE, "send-reminder"),
            ),
        ]
        self.engine = database.make_engine(database_url)

    def url(self, port_name: str) -> str:
        """The address of a process; a test signs what it posts there with sender_keys."""
        service = ROUTER if port_name == "router" else port_name
        return known_as(f"http://127.0.0.1:{getattr(self.ports, port_name)}", service)

    @property
    def web(self) -> str:
        return self.url("web")

    def _specs(self) -> list[ChildSpec]:
        specs = child_specs(self.ports)
        router = next(spec for spec in specs if spec.name == "router")
        overrides = [f"--subscriber={name}={proxy.url}" for name, proxy in self.proxies.items()]
        web = ChildSpec(
            "web",
            [
                # Its metrics on a port of its own, as `just up` and the image give it.
                "env",
                f"TASKFLOW_METRICS_PORT={self.ports.web_metrics}",
                str(Path(sys.executable).parent / "flask"),
                "--app",
                "taskflow.entrypoints.api:create_app",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports.web),
                "--no-reload",
                "--no-debugger",
                "--with-threads",
            ],
            self.web,
        )
        return [
            dataclasses.replace(router, argv=[*router.argv, *overrides]),
            *(spec for spec in specs if spec is not router),
            web,
        ]

    def start(self) -> Stack:
        database.migrate(self.settings.database_url)
        for process in self.processes.values():
            process.start()
        for process in self.processes.values():
            process.wait_ready()
        for timer in self._timers:
            timer.start()
        return self

    def restart(self, name: str) -> None:
        """SIGKILL the process, as a crash would, start it again and wait until it answers."""
        process = self.processes[name]
        process.kill()
        process.start()
        process.wait_ready()

    def close(self) -> None:
        self._stopping.set()
        for process in self.processes.values():
            process.kill()
        for proxy in self.proxies.values():
            proxy.close()
        self.engine.dispose()

    # What the harness counts once the load is over.

    def backlog(self) -> int:
        return requests.get(f"{self.url('router')}/healthz", timeout=5).json()["backlog"]

    def pending_outbox(self) -> int:
        with self.engine.connect() as connection:
            return connection.scalar(
                sa.select(sa.func.count())
                .select_from(orm.outbox)
                .where(orm.outbox.c.published_at.is_(None))
            )

    def wait_quiet(self, timeout: float = QUIET_TIMEOUT_SECONDS) -> None:
        """Wait until every write is published and every delivery finished, twice in a row (a
        reply, such as a spawn, makes new work after the backlog looked empty)."""
        quiet_checks: list[bool] = []

        def quiet() -> bool:
            quiet_checks.append(self.pending_outbox() == 0 and self.backlog() == 0)
            return quiet_checks[-2:] == [True, True]

        wait_until(quiet, what="the outbox and the router backlog to drain", timeout=timeout)

    def dead_letters(self) -> list[dict[str, object]]:
        return requests.get(f"{self.url('router')}/dead-letters", timeout=5).json()

    def log_tails(self) -> str:
        return "\n".join(f"== {p.name} ==\n{p.log_tail(1500)}" for p in self.processes.values())


@contextlib.contextmanager
def running_stack(
    workdir: Path,
    database_url: str,
    *,
    backing: str = "router",
    kafka_bootstrap: str | None = None,
    deliveries_per_event: int = 1,
    env: Mapping[str, str] = RATE_LIMITS_OUT_OF_REACH,
) -> Iterator[Stack]:
    stack = Stack(
        workdir,
        database_url,
        backing=backing,
        kafka_bootstrap=kafka_bootstrap,
        deliveries_per_event=deliveries_per_event,
        env=env,
    )
    try:
        yield stack.start()
    finally:
        stack.close()
