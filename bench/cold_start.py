"""Cold start of each function: process start -> first CloudEvent handled (a 2xx answer), its
import time in a fresh interpreter (with `-X importtime`'s heaviest imports), and its memory
once it has handled that event.

Each function runs exactly as deployed: the functions-framework CLI (gunicorn master + one
worker) on a migrated SQLite database, publishing to a sink that accepts everything. Memory is
reported as each process's RSS and as the PSS of master and worker together: fork shares the
master's pages with the worker, so adding the two RSS figures would count them twice; the PSS sum
is what the function's container is charged for.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from taskflow import catalogue
from taskflow.adapters import sender_identity
from taskflow.adapters.database import migrate
from taskflow.config import FUNCTIONS
from taskflow.domain.model import Task
from taskflow.domain.recurrence import Recurrence
from taskflow_dev.local.launch import free_port
from taskflow_dev.local.processes import function_command

from bench.context import Context
from bench.machine import REPO_ROOT
from bench.report import Result

# The doors take only their senders (specs/eventing.md, Sender identity): the bench signs as
# the router (deliveries) and as the API (create-task's /commands), with keys of its own.
AS_ROUTER = sender_identity.Signer(sender_identity.ROUTER, "bench-delivery-key-0123456789abcdef")
AS_API = sender_identity.Signer(sender_identity.API, "bench-command-key-0123456789abcdefgh")
BENCH_KEYS = {"TASKFLOW_DELIVERY_KEY": AS_ROUTER.key, "TASKFLOW_COMMAND_KEY": AS_API.key}
GOAL_SECONDS = 1.0
GOAL_MIB = 80.0
START_TIMEOUT_SECONDS = 60.0
USER_ID = "cold-start-user"
SOURCE = "bench/cold-start"
TOP_IMPORTS = 12

# Imports a function's module in a fresh interpreter as the functions-framework CLI does (it
# builds its Flask app, then imports the source inside the app's context) and prints the seconds
# it took, the framework's own import included: it is part of every start.
IMPORT_PROBE = """
import sys, time
started = time.perf_counter()
import functions_framework
functions_framework.create_app(target=sys.argv[2], source=sys.argv[1])
print(time.perf_counter() - started)
"""


def run(context: Context) -> Result:
    repeats = context.scaled(3, 1)
    database_url = f"sqlite:///{context.workdir / 'taskflow.db'}"
    migrate(database_url)
    rows: list[dict[str, object]] = []
    heavy: dict[str, list[dict[str, object]]] = {}
    with _sink() as broker_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "BROKER_URL": broker_url,
            "TASKFLOW_DATA_DIR": str(context.workdir),
            # broadcast-update refuses to start without a signing secret (there is no default).
            "JWT_SECRET": secrets.token_urlsafe(48),
            "PYTHONUNBUFFERED": "1",
            **BENCH_KEYS,
        }
        for name in FUNCTIONS:
            starts = [_cold_start(name, env, context.workdir) for _ in range(repeats)]
            imports = [_import_seconds(name, env) for _ in range(repeats)]
            heavy[name] = _heaviest_imports(name, env)
            start = statistics.median(s["seconds"] for s in starts)
            memory = starts[-1]
            rows.append(
                {
                    "function": name,
                    "first_event_s": round(start, 3),
                    "import_s": round(statistics.median(imports), 3),
                    "worker_rss_mib": memory["worker_rss_mib"],
                    "master_rss_mib": memory["master_rss_mib"],
                    "pss_total_mib": memory["pss_total_mib"],
                    "met_1s": start < GOAL_SECONDS,
                    "met_80mib": memory["worker_rss_mib"] < GOAL_MIB,
                }
            )
    baseline = statistics.median(_interpreter_start_seconds() for _ in range(repeats))
    return Result(
        "cold_start",
        "functions-framework",
        rows,
        details={
            "repeats": repeats,
            "heaviest_imports": heavy,
            "bare_interpreter_start_s": round(baseline, 3),
        },
        notes=[
            "first_event_s: median of process start -> first 2xx answer to a real CloudEvent",
            f"for scale: a bare `python -c pass` took {baseline:.3f} s on this machine then",
            "met_80mib compares the worker's RSS (the process that serves); pss_total_mib is "
            "master + worker without double-counting shared pages",
        ],
    )


def _cold_start(name: str, env: dict[str, str], workdir: Path) -> dict[str, float]:
    port = free_port()
    path, event = _first_event(name)
    headers, body = to_binary(event)
    audience = sender_identity.service_audience("taskflow", name.replace("_", "-"))
    headers |= (AS_API if path == "/commands" else AS_ROUTER).headers(audience)
    log = (workdir / f"{name}-{port}.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        function_command(name, port),
        env=env,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        while True:
            if process.poll() is not None or time.perf_counter() - started > START_TIMEOUT_SECONDS:
                raise RuntimeError(f"{name} did not handle its first event; see {log.name}")
            try:
                answer = requests.post(
                    f"http://127.0.0.1:{port}{path}", headers=headers, data=body, timeout=30
                )
            except requests.ConnectionError:
                time.sleep(0.005)
                continue
            if answer.ok:
                break
            raise RuntimeError(f"{name} answered {answer.status_code}: {answer.text[:300]}")
        seconds = time.perf_counter() - started
        worker = _children(process.pid)
        # broadcast-update (aiohttp) serves in the process it started: no master, no worker.
        serving = worker or [process.pid]
        return {
            "seconds": seconds,
            "master_rss_mib": _status_mib(process.pid, "VmRSS") if worker else 0.0,
            "worker_rss_mib": max(_status_mib(pid, "VmRSS") for pid in serving),
            "pss_total_mib": round(sum(_pss_mib(pid) for pid in [process.pid, *worker]), 1),
        }
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


def _interpreter_start_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def _first_event(name: str) -> tuple[str, CloudEvent]:
    """The path and a valid CloudEvent of the kind the function exists for."""
    now = datetime.now(UTC)
    if name == "create_task":
        data = {"user_id": USER_ID, "title": "cold start"}
        return "/commands", _event(catalogue.CREATE_TASK, data)
    task = Task.new(
        USER_ID,
        "cold start",
        due_at=now + timedelta(days=1),
        recurrence=Recurrence(rule="FREQ=DAILY"),
        now=now,
    )
    task.id = 1
    type_ = catalogue.TASK_COMPLETED if name == "spawn_recurrence" else catalogue.TASK_CREATED
    if type_ == catalogue.TASK_COMPLETED:
        task.completed, task.completed_at = True, now
    data = {
        "event_type": type_.rsplit(".", 1)[1],
        "task_id": task.id,
        "task_data": task.to_dict(),
        "user_id": USER_ID,
        "timestamp": now.isoformat(),
    }
    return "/", _event(type_, data)


def _event(type_: str, data: dict[str, Any]) -> CloudEvent:
    return catalogue.new_event(
        type_, data, user_id=USER_ID, source=SOURCE, event_id=str(uuid.uuid4())
    )


def _import_seconds(name: str, env: dict[str, str]) -> float:
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, *_probe_arguments(name)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(completed.stdout.strip().splitlines()[-1])


def _probe_arguments(name: str) -> list[str]:
    return [str(REPO_ROOT / "functions" / name / "main.py"), name]


def _heaviest_imports(name: str, env: dict[str, str]) -> list[dict[str, object]]:
    """The packages whose import took longest, from -X importtime: for each top-level package
    the largest cumulative time of any of its modules, which is the import that first entered
    it (nested packages are also inside their importer's figure)."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORT_PROBE, *_probe_arguments(name)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    by_package: dict[str, float] = defaultdict(float)
    for line in completed.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header, or another line on stderr
        package = parts[2].strip().split(".")[0]
        by_package[package] = max(by_package[package], int(parts[1]) / 1e6)
    heaviest = sorted(by_package.items(), key=lambda item: item[1], reverse=True)
    return [{"package": package, "seconds": round(s, 3)} for package, s in heaviest[:TOP_IMPORTS]]


@contextlib.contextmanager
def _sink():
    """A broker ingress that accepts every event and keeps none."""

    class Accept(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/taskflow"
    finally:
        server.shutdown()


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        tasks = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(child) for child in tasks.split()]
    return []


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _pss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0
