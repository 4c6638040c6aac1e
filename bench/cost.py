"""Cost per command (issue 13): TaskFlow's create against the direct-write baseline
(bench/baseline.py) on the same database, in the same run.

1. Latency: one client sends creates one at a time, alternating baseline and TaskFlow (so both
   see the same moment of a shared machine): create p50/p99 of each, the HTTP answer time.
2. Throughput: CLIENT_THREADS client threads, closed loop, for a fixed time, against the
   baseline (inserts/s), then against TaskFlow. A TaskFlow command counts only once every
   consumer is done with it: its audit row written, its `task.created` push received on the
   user's socket, send-reminder's scheduling of its reminder handled; the counts must be
   exact (nothing lost, nothing doubled) or the figure is withheld. commands/s = confirmed
   commands / seconds from the first command to the moment the last effect was seen.
3. CPU per command: CPU time (user + system, from /proc) of every product process, plus the
   backing's PostgreSQL and Kafka processes when it has them, over the throughput phase,
   divided by the confirmed commands. The baseline's own CPU per insert (its gunicorn and the
   database's processes) is reported beside it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from taskflow import catalogue
from taskflow.adapters import orm
from taskflow.adapters.database import make_engine
from taskflow_dev.local.launch import deployed_gunicorn, descendants, free_port, wait_until

from bench import baseline
from bench.context import Context
from bench.machine import REPO_ROOT
from bench.product import CLOCK_TICKS, LiveClient, Product, User
from bench.report import Result
from bench.stats import summary

CLIENT_THREADS = 10  # the "10 client threads"
USERS = 10
DRAIN_TIMEOUT_SECONDS = 120.0
BASELINE_START_TIMEOUT_SECONDS = 60.0
# A far-future due with one reminder: send-reminder looks its reminders up for every create.
DUE = "2030-01-01T09:00:00Z"
REMINDER_AT = "2030-01-01T08:00:00Z"


@dataclass
class Baseline:
    url: str
    process: subprocess.Popen[bytes]
    secret: str

    def headers(self, user_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {baseline.issue_token(user_id, self.secret)}"}

    def cpu_seconds(self) -> float:
        return process_cpu_seconds({self.process.pid, *descendants(self.process.pid)})


def run(context: Context) -> Result:
    latency_samples = context.scaled(300, 60)
    throughput_seconds = context.scaled(30, 10)
    with context.product() as product, running_baseline(product.database_url, context) as base:
        infrastructure = infrastructure_pids(context.backing)
        users = [product.sign_up() for _ in range(USERS)]
        clients = [LiveClient(product.url("broadcast_update"), user) for user in users]
        try:
            taskflow_ms, baseline_ms = _latencies(product, base, users, latency_samples)
            base_rate, base_cpu = _baseline_throughput(base, infrastructure, throughput_seconds)
            flow = _taskflow_throughput(product, users, clients, infrastructure, throughput_seconds)
        finally:
            for client in clients:
                client.close()
    taskflow, base_figures = summary(taskflow_ms), summary(baseline_ms)
    row = {
        "create_p50_ms": taskflow["p50_ms"],
        "create_p99_ms": taskflow["p99_ms"],
        "baseline_create_p50_ms": base_figures["p50_ms"],
        "baseline_create_p99_ms": base_figures["p99_ms"],
        "commands_per_s": flow["commands_per_s"],
        "baseline_inserts_per_s": base_rate,
        "cpu_ms_per_command": flow["cpu_ms_per_command"],
        "baseline_cpu_ms_per_insert": base_cpu,
        "p50_ratio": round(taskflow["p50_ms"] / base_figures["p50_ms"], 2),
        "p99_ratio": round(taskflow["p99_ms"] / base_figures["p99_ms"], 2),
        "rate_ratio": (
            round(flow["commands_per_s"] / base_rate, 2) if flow["commands_per_s"] else None
        ),
    }
    return Result(
        "cost",
        context.backing,
        [row],
        samples={"taskflow create": taskflow_ms, "baseline create": baseline_ms},
        details={
            "latency_samples_each": latency_samples,
            "throughput_seconds": throughput_seconds,
            "client_threads": CLIENT_THREADS,
            "taskflow_throughput": flow,
            "infrastructure_processes_counted": bool(infrastructure()),
        },
        notes=[
            "create = HTTP answer time of one create, one client, baseline and TaskFlow "
            "alternating; TaskFlow's create carries a due and a reminder",
            f"throughput: {CLIENT_THREADS} client threads, closed loop, {throughput_seconds} s; "
            "a TaskFlow command counts once audited, pushed and its reminders handled, exactly",
            "cpu: every product process plus the backing's PostgreSQL/Kafka processes",
        ],
    )


@contextlib.contextmanager
def running_baseline(database_url: str, context: Context) -> Iterator[Baseline]:
    """The baseline under gunicorn as the API is deployed (1 worker, 8 threads)."""
    port = int(os.environ.get("TASKFLOW_BENCH_BASELINE_PORT") or free_port())
    secret = uuid.uuid4().hex * 2
    log = (context.workdir / "baseline.log").open("w")
    process = subprocess.Popen(
        deployed_gunicorn("bench.baseline:create_app()", port),
        env={
            **os.environ,
            "BASELINE_DATABASE_URL": database_url,
            "BASELINE_JWT_SECRET": secret,
        },
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the baseline exited:\n{_tail(context.workdir)}")
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{url}/health", timeout=2).ok
            return False

        wait_until(up, what="the baseline to start", timeout=BASELINE_START_TIMEOUT_SECONDS)
        yield Baseline(url, process, secret)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _tail(workdir: Path) -> str:
    return (workdir / "baseline.log").read_text(errors="replace")[-3000:]


def _create_body(number: int) -> dict[str, object]:
    return {"title": f"cost {number}", "due": DUE, "reminders": [{"at": REMINDER_AT}]}


def _latencies(
    product: Product, base: Baseline, users: list[User], samples: int
) -> tuple[list[float], list[float]]:
    session = requests.Session()
    taskflow_ms: list[float] = []
    baseline_ms: list[float] = []
    warm_up = 5
    for number in range(samples + warm_up):
        user = users[number % len(users)]
        body = _create_body(number)
        started = time.perf_counter()
        session.post(
            f"{base.url}/api/{user.user_id}/tasks",
            json=body,
            headers=base.headers(user.user_id),
            timeout=60,
        ).raise_for_status()
        between = time.perf_counter()
        session.post(
            f"{product.web}/api/{user.user_id}/tasks", json=body, headers=user.headers, timeout=60
        ).raise_for_status()
        ended = time.perf_counter()
        if number >= warm_up:
            baseline_ms.append((between - started) * 1000)
            taskflow_ms.append((ended - between) * 1000)
    return taskflow_ms, baseline_ms


def _closed_loop(send: Callable[[requests.Session, int, int], bool], seconds: float) -> int:
    """CLIENT_THREADS threads send until `seconds` pass; the number of accepted sends."""
    accepted = [0] * CLIENT_THREADS
    stop_at = time.perf_counter() + seconds

    def loop(index: int) -> None:
        session = requests.Session()
        number = 0
        while time.perf_counter() < stop_at:
            if send(session, index, number):
                accepted[index] += 1
            number += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(accepted)


def _baseline_throughput(
    base: Baseline, infrastructure: Callable[[], set[int]], seconds: float
) -> tuple[float, float]:
    user_ids = [f"baseline-{i}" for i in range(CLIENT_THREADS)]
    headers = [base.headers(user_id) for user_id in user_ids]

    def send(session: requests.Session, index: int, number: int) -> bool:
        answer = session.post(
            f"{base.url}/api/{user_ids[index]}/tasks",
            json=_create_body(number),
            headers=headers[index],
            timeout=60,
        )
        return answer.ok

    cpu_before = base.cpu_seconds() + process_cpu_seconds(infrastructure())
    started = time.perf_counter()
    inserts = _closed_loop(send, seconds)
    elapsed = time.perf_counter() - started
    cpu = base.cpu_seconds() + process_cpu_seconds(infrastructure()) - cpu_before
    return round(inserts / elapsed, 1), round(cpu * 1000 / max(inserts, 1), 2)


def _taskflow_throughput(
    product: Product,
    users: list[User],
    clients: list[LiveClient],
    infrastructure: Callable[[], set[int]],
    seconds: float,
) -> dict[str, object]:
    engine = make_engine(product.database_url)
    ids = [user.user_id for user in users]
    try:
        audit_before = _audit_rows(engine, ids)
        pushes_before = [len(client.pushes("task.created")) for client in clients]
        handled_before = reminder_handled(product)
        created: list[list[int]] = [[] for _ in range(CLIENT_THREADS)]

        def send(session: requests.Session, index: int, number: int) -> bool:
            user = users[index % len(users)]
            answer = session.post(
                f"{product.web}/api/{user.user_id}/tasks",
                json=_create_body(number),
                headers=user.headers,
                timeout=60,
            )
            if answer.ok:
                created[index].append(answer.json()["id"])
            return answer.ok

        cpu_before = product.cpu_seconds() + process_cpu_seconds(infrastructure())
        started = time.perf_counter()
        answered = _closed_loop(send, seconds)
        answered_after = time.perf_counter() - started

        def observed() -> dict[str, int]:
            return {
                "audit_rows": _audit_rows(engine, ids) - audit_before,
                "pushes": sum(
                    len(client.pushes("task.created")) - before
                    for client, before in zip(clients, pushes_before, strict=True)
                ),
                "reminders_handled": reminder_handled(product) - handled_before,
            }

        expected = {"audit_rows": answered, "pushes": answered, "reminders_handled": answered}
        deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
        counts = observed()
        while counts != expected and time.monotonic() < deadline:
            time.sleep(0.05)
            counts = observed()
        done_after = time.perf_counter() - started
        cpu = product.cpu_seconds() + process_cpu_seconds(infrastructure()) - cpu_before
    finally:
        engine.dispose()
    exact = counts == expected
    # Every pushed task id once: a doubled delivery would show as a repeat.
    pushed_ids = [
        push.data["task_id"] for client in clients for push in client.pushes("task.created")
    ]
    created_ids = {task_id for per_thread in created for task_id in per_thread}
    doubled = len(pushed_ids) - len(set(pushed_ids))
    missing = len(created_ids - set(pushed_ids))
    exact = exact and not doubled and not missing
    return {
        "answered": answered,
        "answered_per_s": round(answered / answered_after, 1),
        "expected": expected,
        "observed": counts,
        "doubled_pushes": doubled,
        "missing_pushes": missing,
        "exact": exact,
        "drained_after_s": round(done_after - answered_after, 2),
        # Withheld when anything was lost or doubled: such a rate is not a figure.
        "commands_per_s": round(answered / done_after, 1) if exact else None,
        "cpu_ms_per_command": round(cpu * 1000 / max(answered, 1), 2),
    }


def _audit_rows(engine: sa.Engine, user_ids: list[str]) -> int:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count())
            .select_from(orm.audit_log)
            .where(orm.audit_log.c.user_id.in_(user_ids))
        ).scalar_one()


def reminder_handled(product: Product) -> int:
    """How many task.created events send-reminder has handled (its Prometheus counter, on its
    metrics-only port: the public one answers /metrics 404)."""
    text = requests.get(f"{product.url('send_reminder_metrics')}/metrics", timeout=10).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "taskflow_event_handling_seconds_count"
                and labels.get("service") == "send-reminder"
                and labels.get("type") == catalogue.TASK_CREATED
                and labels.get("outcome") == "ok"
            ):
                total += sample.value
    return int(total)


def process_cpu_seconds(pids: set[int]) -> float:
    total_ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total_ticks += int(fields[11]) + int(fields[12])
    return total_ticks / CLOCK_TICKS


def infrastructure_pids(backing: str) -> Callable[[], set[int]]:
    """The backing's PostgreSQL (postmaster and every backend) and Kafka processes, looked up
    anew at each call (backends come and go); none on the embedded backing."""
    if backing == "embedded":
        return set
    roots: list[Path] = list((REPO_ROOT / ".cache" / "bench-postgres").glob("**/postmaster.pid"))
    if backing == "kafka":
        roots.append(REPO_ROOT / ".cache" / "bench-kafka" / "kafka.pid")

    def pids() -> set[int]:
        found: set[int] = set()
        for pidfile in roots:
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int(pidfile.read_text().split()[0])
                found |= {pid, *descendants(pid)}
        return found

    return pids
