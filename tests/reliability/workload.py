"""The mixed workload of the harness, its live listeners, and the exact counts it must leave.

`User` signs up, then performs a seeded random mix of creates (a quarter of them daily recurring),
updates, completion toggles, deletes and lists through the REST API, keeping the tally of what
must exist afterwards: every accepted write is exactly one task event, and every completion of a
recurring occurrence is exactly one spawned task (and its `task.created`). A recurring occurrence
is completed at most once, so the expected spawns are simply its completions.

`Listener` is one browser's Socket.IO connection; `expected_counts` and `actual_counts` compare
the tally with the database (tasks, audit rows, outbox events) and the listeners.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import socketio
import sqlalchemy as sa
from stack import Stack, wait_until
from taskflow.adapters import orm

PASSWORD = "correct horse battery staple"
TASK_EVENT_PREFIX = "com.taskflow.task."
DAILY = {"rule": "FREQ=DAILY", "mode": "due"}
# 503s (a function or the database being restarted) are retried with the same Idempotency-Key,
# as a client should (specs/rest-api.md); a connection refused (the web app restarting) too.
RETRY_STATUSES = {502, 503, 504}
MAX_ATTEMPTS = 60
RETRY_PAUSE_SECONDS = 0.5


@dataclass
class Tally:
    events: int = 0
    spawns: int = 0
    live_tasks: int = 0
    reminders: int = 0
    refused: Counter[int] = field(default_factory=Counter)


class User:
    def __init__(self, web: str, seed: int) -> None:
        self.web = web
        self.random = random.Random(seed)
        self.session = requests.Session()
        self.tally = Tally()
        # task id -> (recurring, completed)
        self._tasks: dict[int, tuple[bool, bool]] = {}
        self._serial = 0
        answer = self._call(
            "POST",
            "/api/auth/signup",
            json={"email": f"load-{seed}-{uuid.uuid4().hex[:8]}@example.org", "password": PASSWORD},
        )
        assert answer.status_code == 201, answer.text
        self.user_id: str = answer.json()["user_id"]
        self.token: str = answer.json()["token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    @property
    def operations_done(self) -> int:
        return self._serial

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def tasks_path(self) -> str:
        return f"/api/{self.user_id}/tasks"

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request, retried through outages with one Idempotency-Key, so a write that
        happened but whose answer was lost is not repeated."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        for _attempt in range(MAX_ATTEMPTS):
            try:
                answer = self.session.request(
                    method, self.web + path, headers=headers, timeout=30, **kwargs
                )
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                # No answer, or half of one (the web app was killed while it answered): the
                # same request again, under the same key, learns what happened.
                time.sleep(RETRY_PAUSE_SECONDS)
                continue
            if answer.status_code not in RETRY_STATUSES:
                return answer
            self.tally.refused[answer.status_code] += 1
            time.sleep(RETRY_PAUSE_SECONDS)
        raise AssertionError(f"{method} {path} never succeeded")

    def _write(self, method: str, path: str, expected: int, **kwargs: Any) -> dict[str, Any]:
        answer = self._call(method, path, **kwargs)
        assert answer.status_code == expected, (
            f"{method} {path}: {answer.status_code} {answer.text}"
        )
        self.tally.events += 1
        return answer.json() if answer.content else {}

    def run(self, operations: int, pause: Callable[[], None] = lambda: None) -> None:
        for _ in range(operations):
            self.step()
            pause()

    def step(self) -> None:
        self._serial += 1
        roll = self.random.random()
        if not self._tasks or roll < 0.30:
            self._create()
        elif roll < 0.55:
            self._update()
        elif roll < 0.75:
            self._toggle()
        elif roll < 0.85:
            self._delete()
        else:
            answer = self._call("GET", self.tasks_path, params={"status": "all", "page_size": 5})
            assert answer.status_code == 200, answer.text

    def _pick(self) -> int | None:
        """A task to act on. A completed recurring occurrence is left alone: its spawn is still
        on its way, and create-task refuses a spawn whose completed task was deleted meanwhile
        (specs/reliability.md, "Findings")."""
        choices = [
            task_id
            for task_id, (recurring, completed) in self._tasks.items()
            if not (recurring and completed)
        ]
        return self.random.choice(choices) if choices else None

    def _create(self) -> None:
        recurring = self.random.random() < 0.25
        body: dict[str, Any] = {"title": f"task {self._serial}", "priority": "low"}
        if recurring:
            body |= {"due": "2031-01-01", "recurrence": DAILY}
        task = self._write("POST", self.tasks_path, 201, json=body)
        self._tasks[task["id"]] = (recurring, False)
        self.tally.live_tasks += 1

    def create_with_reminder(self, seconds_ahead: float) -> int:
        """A one-off task whose reminder falls due shortly; it is never touched afterwards."""
        at = datetime.now(UTC) + timedelta(seconds=seconds_ahead)
        body = {"title": f"reminded {self._serial}", "reminders": [{"at": at.isoformat()}]}
        task = self._write("POST", self.tasks_path, 201, json=body)
        self.tally.live_tasks += 1
        self.tally.reminders += 1
        return task["id"]

    def _update(self) -> None:
        task_id = self._pick()
        if task_id is not None:
            title = f"task {self._serial} renamed"
            self._write("PUT", f"{self.tasks_path}/{task_id}", 200, json={"title": title})

    def _toggle(self) -> None:
        """Toggle a one-off task; complete a recurring occurrence once (its spawn is counted)."""
        task_id = self._pick()
        if task_id is None:
            return
        recurring, completed = self._tasks[task_id]
        task = self._write("PATCH", f"{self.tasks_path}/{task_id}/complete", 200)
        assert task["completed"] is not completed
        self._tasks[task_id] = (recurring, not completed)
        if recurring:
            self.tally.spawns += 1
            self.tally.events += 1  # the spawned occurrence's task.created

    def _delete(self) -> None:
        task_id = self._pick()
        if task_id is not None:
            self._write("DELETE", f"{self.tasks_path}/{task_id}", 204)
            del self._tasks[task_id]
            self.tally.live_tasks -= 1


class Listener:
    """One browser tab's live-sync connection for one user."""

    def __init__(self, url: str, user: User) -> None:
        self.user_id = user.user_id
        self.received: list[dict[str, Any]] = []
        self.reminders: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        for name in ("task.created", "task.updated", "task.completed", "task.deleted"):
            self.sio.on(name, self._record)
        self.sio.on("reminder.due", self._record_reminder)
        self.sio.connect(url, transports=["websocket"], auth={"token": user.token}, wait_timeout=20)

    def _record(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(data)

    def _record_reminder(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.reminders.append(data)

    def reminder_event_ids(self) -> list[str]:
        with self._lock:
            return [data["event_id"] for data in self.reminders]

    def event_ids(self) -> list[str]:
        with self._lock:
            return [data["event_id"] for data in self.received]

    def foreign(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                data for data in self.received + self.reminders if data["user_id"] != self.user_id
            ]

    def close(self) -> None:
        self.sio.disconnect()


@dataclass(frozen=True)
class Counts:
    tasks: int
    events: int
    audit_rows: int
    spawns: int
    reminders_fired: int


def expected_counts(user: User) -> Counts:
    tally = user.tally
    return Counts(
        tasks=tally.live_tasks + tally.spawns,
        events=tally.events,
        audit_rows=tally.events,
        spawns=tally.spawns,
        reminders_fired=tally.reminders,
    )


def _event_ids(connection: sa.Connection, user_id: str, topic: str) -> list[str]:
    return list(
        connection.scalars(
            sa.select(orm.outbox.c.event_id).where(
                orm.outbox.c.user_id == user_id,
                orm.outbox.c.topic == topic,
                orm.outbox.c.type.startswith(TASK_EVENT_PREFIX),
            )
        )
    )


def task_event_ids(stack: Stack, user_id: str, topic: str) -> list[str]:
    """The task events create-task committed for the user (the outbox keeps published rows)."""
    with stack.engine.connect() as connection:
        return _event_ids(connection, user_id, topic)


def actual_counts(stack: Stack, user_id: str) -> Counts:
    # One connection: on SQLite each transaction takes the write lock (adapters/database.py).
    with stack.engine.connect() as connection:

        def count(table: sa.Table, *conditions: Any) -> int:
            query = sa.select(sa.func.count()).select_from(table).where(*conditions)
            return connection.scalar(query) or 0

        return Counts(
            tasks=count(orm.tasks, orm.tasks.c.user_id == user_id),
            events=len(_event_ids(connection, user_id, "task-events")),
            audit_rows=count(orm.audit_log, orm.audit_log.c.user_id == user_id),
            spawns=count(orm.tasks, orm.tasks.c.user_id == user_id, orm.tasks.c.occurrence > 1),
            reminders_fired=count(
                orm.reminder_deliveries, orm.reminder_deliveries.c.user_id == user_id
            ),
        )


def assert_exact(stack: Stack, users: list[User], listeners: list[Listener]) -> None:
    """After the load: every count is exactly what the users' writes imply, and every listener
    got each of its user's events (and due reminders) exactly once, and no one else's."""

    def fired() -> bool:
        return all(
            actual_counts(stack, user.user_id).reminders_fired >= user.tally.reminders
            for user in users
        )

    wait_until(fired, what="every due reminder to fire", timeout=60)
    stack.wait_quiet()
    mismatches = {
        user.user_id: (expected_counts(user), actual_counts(stack, user.user_id))
        for user in users
        if expected_counts(user) != actual_counts(stack, user.user_id)
    }
    assert not mismatches, f"expected vs actual per user: {mismatches}"
    updates = {
        user.user_id: sorted(task_event_ids(stack, user.user_id, "task-updates")) for user in users
    }
    reminders = {user.user_id: user.tally.reminders for user in users}
    for user in users:
        assert len(updates[user.user_id]) == user.tally.events

    def delivered() -> bool:
        return all(
            len(listener.event_ids()) >= len(updates[listener.user_id])
            and len(listener.reminder_event_ids()) >= reminders[listener.user_id]
            for listener in listeners
        )

    wait_until(delivered, what="every listener to receive its user's events", timeout=60)
    time.sleep(1.0)  # room for a duplicate that would arrive late to show up
    for listener in listeners:
        assert sorted(listener.event_ids()) == updates[listener.user_id]
        reminder_ids = listener.reminder_event_ids()
        assert len(reminder_ids) == len(set(reminder_ids)) == reminders[listener.user_id]
        assert listener.foreign() == []
    assert stack.dead_letters() == []
