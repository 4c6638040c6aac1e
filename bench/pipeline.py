"""Pipeline latency: a task command sent to the REST API -> its `task.created` push received by
the user's connected Socket.IO client, at 1, 10 and 100 concurrent users.

All users of a level are connected at once and send their commands interleaved at one fixed
aggregate rate, so the levels compare concurrency (connections, rooms, interleaving) rather than
how far past saturation the machine is pushed; the throughput benchmark finds saturation.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from taskflow_dev.local.launch import wait_until

from bench.context import Context
from bench.product import LiveClient, Product, User
from bench.report import Result
from bench.stats import summary

LEVELS = (1, 10, 100)
GOAL_P99_MS = {"embedded": 50.0, "postgres": 50.0, "kafka": 100.0}
# Below what a loaded 2-core machine sustains (see throughput), so latency is not queueing.
RATE_PER_SECOND = 4.0
ARRIVAL_TIMEOUT_SECONDS = 60.0


@dataclass
class Sent:
    user_index: int
    sent_at: float  # perf_counter just before the request
    answered_at: float
    task_id: int


def run(context: Context) -> Result:
    commands = context.scaled(200, 40)
    rows: list[dict[str, object]] = []
    samples: dict[str, list[float]] = {}
    with context.product() as product:
        users = [product.sign_up() for _ in range(max(LEVELS))]
        clients = [LiveClient(product.url("broadcast_update"), user) for user in users]
        try:
            _send_level(product, users[:1], clients[:1], 10, Counter())  # warm every process up
            for level in LEVELS:
                refused: Counter[int] = Counter()
                sent = _send_level(product, users[:level], clients[:level], commands, refused)
                to_push, api = _latencies(sent, clients)
                samples[f"{level} users"] = to_push
                figures = summary(to_push)
                goal = GOAL_P99_MS[context.backing]
                rows.append(
                    {
                        "users": level,
                        "accepted": len(sent),
                        "refused": dict(refused) or 0,
                        "p50_ms": figures["p50_ms"],
                        "p95_ms": figures["p95_ms"],
                        "p99_ms": figures["p99_ms"],
                        "max_ms": figures["max_ms"],
                        "api_p50_ms": summary(api)["p50_ms"],
                        "goal_p99_ms": goal,
                        "met": figures["p99_ms"] < goal,
                    }
                )
        finally:
            for client in clients:
                client.close()
    return Result(
        "pipeline",
        context.backing,
        rows,
        samples=samples,
        details={"rate_per_second": RATE_PER_SECOND, "commands_per_level": commands},
        notes=[
            "latency = command sent to the API -> task.created pushed to the user's socket; "
            "it includes the API's own answer time (api_p50_ms)",
            f"commands interleaved over the level's users at {RATE_PER_SECOND:g}/s in total",
        ],
    )


def _send_level(
    product: Product,
    users: list[User],
    clients: list[LiveClient],
    commands: int,
    refused: Counter[int],
) -> list[Sent]:
    """Send `commands` creates spread over `users` at RATE_PER_SECOND; count the refused ones
    by status in `refused`; wait for the push of every accepted one."""
    sent: list[Sent] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.2

    def user_loop(index: int) -> None:
        user = users[index]
        for number in range(index, commands, len(users)):
            delay = start + number / RATE_PER_SECOND - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent_at = time.perf_counter()
            answer = product.session.post(
                f"{product.web}/api/{user.user_id}/tasks",
                json={"title": f"benchmark task {number}"},
                headers=user.headers,
                timeout=60,
            )
            answered_at = time.perf_counter()
            with lock:
                if answer.ok:
                    sent.append(Sent(index, sent_at, answered_at, answer.json()["id"]))
                else:
                    refused[answer.status_code] += 1

    threads = [threading.Thread(target=user_loop, args=(i,)) for i in range(len(users))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def all_pushed() -> bool:
        return all(_push_of(clients[s.user_index], s.task_id) is not None for s in sent)

    wait_until(all_pushed, what="every task.created push", timeout=ARRIVAL_TIMEOUT_SECONDS)
    return sent


def _push_of(client: LiveClient, task_id: int) -> float | None:
    for push in client.pushes("task.created"):
        if push.data["task_id"] == task_id:
            return push.at_monotonic
    return None


def _latencies(sent: list[Sent], clients: list[LiveClient]) -> tuple[list[float], list[float]]:
    to_push, api = [], []
    for command in sent:
        pushed_at = _push_of(clients[command.user_index], command.task_id)
        assert pushed_at is not None
        to_push.append((pushed_at - command.sent_at) * 1000)
        api.append((command.answered_at - command.sent_at) * 1000)
    return to_push, api
