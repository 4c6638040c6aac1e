"""Throughput: task commands per second through the whole pipeline (audit, broadcast,
recurrence) with zero loss, stepping up the offered rate until the pipeline saturates.

Each step uses fresh users. A user creates a daily task, then completes it, and so on: every
completion makes spawn-recurrence create the next occurrence. After the step the benchmark waits
for the pipeline to drain and then counts, exactly, what each user should have:
tasks = creates + completes (the spawned occurrences), audit rows = creates + 2 x completes,
pushes = creates + completes of `task.created` and completes of `task.completed`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa
from taskflow.adapters import orm
from taskflow.adapters.database import make_engine

from bench.context import Context
from bench.product import LiveClient, Product, User
from bench.report import Result

STEPS_PER_SECOND = (2, 5, 10, 20, 40, 80, 160)
USERS_PER_STEP = 20
DRAIN_TIMEOUT_SECONDS = 90.0
# A step is sustained when nearly all of the offered rate was answered and the pipeline
# caught up soon after the step ended.
SUSTAINED_FRACTION = 0.9
SUSTAINED_DRAIN_SECONDS = 5.0


@dataclass
class Tally:
    creates: int = 0
    completes: int = 0
    refused: int = 0
    per_user: Counter[str] = field(default_factory=Counter)


def run(context: Context) -> Result:
    step_seconds = context.scaled(15, 5)
    steps = STEPS_PER_SECOND if not context.quick else STEPS_PER_SECOND[:2]
    rows: list[dict[str, object]] = []
    with context.product() as product:
        engine = make_engine(product.database_url)
        try:
            for rate in steps:
                row = _step(product, engine, rate, step_seconds)
                rows.append(row)
                if not row["sustained"]:
                    break  # saturated: higher rates only queue more
        finally:
            engine.dispose()
    sustained = [row["offered_per_s"] for row in rows if row["sustained"]]
    notes = [
        f"each step {step_seconds} s with {USERS_PER_STEP} users; a command is one create or "
        "complete; every complete also spawns the next occurrence through the broker",
        "sustained = answered >= 90% of offered, zero loss, drained within 5 s",
        f"highest sustained offered rate: {max(sustained) if sustained else 'none'} commands/s",
        "cpu_ms_per_command: CPU of every product process per answered command (the effects "
        "included); 1000 x free cores / it bounds the rate on an idle machine",
    ]
    return Result("throughput", context.backing, rows, notes=notes)


def _step(product: Product, engine: sa.Engine, rate: float, seconds: int) -> dict[str, object]:
    users = [product.sign_up() for _ in range(USERS_PER_STEP)]
    clients = [LiveClient(product.url("broadcast_update"), user) for user in users]
    try:
        tally = Tally()
        cpu_before = product.cpu_seconds()
        sending_seconds = _offer(product, users, rate, seconds, tally)
        ended = time.perf_counter()
        drained = _drain(engine, users, clients, tally)
        drain_seconds = time.perf_counter() - ended
        cpu_seconds = product.cpu_seconds() - cpu_before
    finally:
        for client in clients:
            client.close()
    answered = tally.creates + tally.completes
    expected, observed = _expected(tally), _observed(engine, users, clients)
    lost = {
        key: expected[key] - observed[key] for key in expected if expected[key] != observed[key]
    }
    achieved = answered / sending_seconds
    sustained = (
        achieved >= SUSTAINED_FRACTION * rate
        and not lost
        and not tally.refused
        and drained
        and drain_seconds <= SUSTAINED_DRAIN_SECONDS
    )
    return {
        "offered_per_s": rate,
        "answered_per_s": round(achieved, 1),
        "commands": answered,
        "refused": tally.refused,
        "drain_s": round(drain_seconds, 2),
        "cpu_ms_per_command": round(cpu_seconds * 1000 / max(answered, 1), 1),
        "tasks": observed["tasks"],
        "audit_rows": observed["audit_rows"],
        "pushes": observed["pushes"],
        "lost_or_extra": lost or 0,
        "sustained": sustained,
    }


def _offer(product: Product, users: list[User], rate: float, seconds: int, tally: Tally) -> float:
    """Open loop: command n is due at start + n / rate, sent by user n % len(users). Returns
    the seconds from the first command's moment to the last answer."""
    total = int(rate * seconds)
    lock = threading.Lock()
    start = time.perf_counter() + 0.2

    def user_loop(index: int) -> None:
        user = users[index]
        pending_task: int | None = None
        for number in range(index, total, len(users)):
            delay = start + number / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if pending_task is None:
                answer = product.session.post(
                    f"{product.web}/api/{user.user_id}/tasks",
                    json={
                        "title": f"water plants {number}",
                        "recurrence": {"rule": "FREQ=DAILY"},
                        "due": "2030-01-01T09:00",
                    },
                    headers=user.headers,
                    timeout=120,
                )
            else:
                answer = product.session.patch(
                    f"{product.web}/api/{user.user_id}/tasks/{pending_task}/complete",
                    json={"completed": True},
                    headers=user.headers,
                    timeout=120,
                )
            with lock:
                if not answer.ok:
                    tally.refused += 1
                elif pending_task is None:
                    tally.creates += 1
                    tally.per_user[user.user_id] += 1
                else:
                    tally.completes += 1
            if answer.ok:
                pending_task = answer.json()["id"] if pending_task is None else None

    threads = [threading.Thread(target=user_loop, args=(i,)) for i in range(len(users))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return max(seconds, time.perf_counter() - start)


def _expected(tally: Tally) -> dict[str, int]:
    return {
        "tasks": tally.creates + tally.completes,
        "audit_rows": tally.creates + 2 * tally.completes,
        "pushes": tally.creates + 2 * tally.completes,
    }


def _observed(engine: sa.Engine, users: list[User], clients: list[LiveClient]) -> dict[str, int]:
    ids = [user.user_id for user in users]
    with engine.connect() as connection:
        tasks = connection.execute(
            sa.select(sa.func.count()).select_from(orm.tasks).where(orm.tasks.c.user_id.in_(ids))
        ).scalar_one()
        audit_rows = connection.execute(
            sa.select(sa.func.count())
            .select_from(orm.audit_log)
            .where(orm.audit_log.c.user_id.in_(ids))
        ).scalar_one()
    pushes = sum(
        len(client.pushes("task.created")) + len(client.pushes("task.completed"))
        for client in clients
    )
    return {"tasks": tasks, "audit_rows": audit_rows, "pushes": pushes}


def _drain(engine: sa.Engine, users: list[User], clients: list[LiveClient], tally: Tally) -> bool:
    """Wait until every expected effect is there (True) or the timeout passes (False)."""
    expected = _expected(tally)
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if _observed(engine, users, clients) == expected:
            return True
        time.sleep(0.1)
    return False
