"""Reminder lateness: (delivered at - remind_at) for 1,000 reminders spread evenly over a
minute, delivered = received by the user's Socket.IO client as `reminder.due`.

100 tasks of 10 users carry 10 absolute reminders each (the most a task may have); reminder k
of task i fires at first + (i + 100 k) x 60 ms, so the minute is covered evenly while creating
the tasks takes seconds, not minutes. The tasks are written well before the first reminder, so
send-reminder is warm and every firing is one of its timers (or a sweep), never a catch-up.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from taskflow.domain.model import REMINDERS_MAX
from taskflow_dev.local.launch import wait_until

from bench.context import Context
from bench.product import LiveClient
from bench.report import Result
from bench.stats import summary

USERS = 10
SPREAD_SECONDS = 60.0
LEAD_SECONDS = 30.0  # from the first create to the first reminder
# --quick: 200 reminders over 20 s, 15 s after the first create (20 tasks are written in a few
# seconds even on a loaded machine), so that `just bench --quick` stays under 15 minutes.
QUICK_SPREAD_SECONDS = 20.0
QUICK_LEAD_SECONDS = 15.0
DELIVERY_TIMEOUT_SECONDS = 60.0
GOAL_P99_MS = 1000.0


def run(context: Context) -> Result:
    reminders = context.scaled(1000, 200)
    spread_seconds = QUICK_SPREAD_SECONDS if context.quick else SPREAD_SECONDS
    lead_seconds = QUICK_LEAD_SECONDS if context.quick else LEAD_SECONDS
    tasks = reminders // REMINDERS_MAX
    rows: list[dict[str, object]] = []
    with context.product() as product:
        users = [product.sign_up() for _ in range(USERS)]
        clients = [LiveClient(product.url("broadcast_update"), user) for user in users]
        try:
            first = datetime.now(UTC) + timedelta(seconds=lead_seconds)
            step = spread_seconds / reminders
            created_by = time.monotonic()

            def create(index: int) -> None:
                user = users[index % USERS]
                moments = [
                    first + timedelta(seconds=(index + tasks * k) * step)
                    for k in range(REMINDERS_MAX)
                ]
                answer = product.session.post(
                    f"{product.web}/api/{user.user_id}/tasks",
                    json={
                        "title": f"reminded task {index}",
                        "reminders": [{"at": moment.isoformat()} for moment in moments],
                    },
                    headers=user.headers,
                    timeout=60,
                )
                answer.raise_for_status()

            threads = [threading.Thread(target=create, args=(i,)) for i in range(tasks)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            created_in = time.monotonic() - created_by

            def delivered() -> int:
                return sum(len(client.pushes("reminder.due")) for client in clients)

            wait_until(
                lambda: delivered() >= reminders,
                what=f"{reminders} reminder.due pushes",
                timeout=lead_seconds + spread_seconds + DELIVERY_TIMEOUT_SECONDS,
            )
            time.sleep(1)  # a duplicate would arrive right behind
        finally:
            for client in clients:
                client.close()
    lateness = [
        (push.at_epoch - datetime.fromisoformat(push.data["remind_at"]).timestamp()) * 1000
        for client in clients
        for push in client.pushes("reminder.due")
    ]
    keys = [
        (push.data["task_id"], push.data["reminder_id"])
        for client in clients
        for push in client.pushes("reminder.due")
    ]
    figures = summary(lateness)
    rows.append(
        {
            "reminders": reminders,
            "delivered": len(lateness),
            "duplicates": len(keys) - len(set(keys)),
            "early": sum(1 for value in lateness if value < 0),
            "p50_ms": figures["p50_ms"],
            "p95_ms": figures["p95_ms"],
            "p99_ms": figures["p99_ms"],
            "max_ms": figures["max_ms"],
            "goal_p99_ms": GOAL_P99_MS,
            "met": figures["p99_ms"] < GOAL_P99_MS,
        }
    )
    return Result(
        "reminders",
        context.backing,
        rows,
        samples={"lateness": lateness},
        details={"tasks": tasks, "created_in_seconds": round(created_in, 2)},
        notes=[
            f"{reminders} reminders over {spread_seconds:g} s on {tasks} tasks of {USERS} users; "
            f"tasks written in {created_in:.1f} s, {lead_seconds:g} s ahead of the first"
        ],
    )
