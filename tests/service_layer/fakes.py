"""In-memory repositories and unit of work: the service layer's use cases run on these in the
unit tests (test_use_cases_on_fakes.py) as they run on SQLAlchemy in the product, because both
implement the ports of service_layer/unit_of_work.py."""

from __future__ import annotations

import itertools
from typing import Any
from zoneinfo import ZoneInfo

from cloudevents.http import CloudEvent
from taskflow import catalogue
from taskflow.domain.model import Task
from taskflow.service_layer.unit_of_work import AbstractUnitOfWork


class FakeUsers:
    def __init__(self, zones: dict[str, str]) -> None:
        self.zones = zones

    def zone(self, user_id: str) -> ZoneInfo:
        return ZoneInfo(self.zones.get(user_id, "UTC"))


class FakeTasks:
    def __init__(self, outbox: FakeOutbox) -> None:
        self.rows: dict[int, Task] = {}
        self.seen: list[Task] = []
        self._deleted: list[Task] = []
        self._ids = itertools.count(1)
        self._outbox = outbox

    def add(self, task: Task) -> None:
        if task.id is None:
            task.id = next(self._ids)
        self.rows[task.id] = task
        self.seen.append(task)

    def get(self, user_id: str, task_id: int) -> Task | None:
        task = self.rows.get(task_id)
        if task is None or task.user_id != user_id:
            return None
        if task not in self.seen:
            self.seen.append(task)
        return task

    def get_occurrence(self, user_id: str, series_id: str, occurrence: int) -> Task | None:
        found = next(
            (
                task
                for task in self.rows.values()
                if task.user_id == user_id
                and task.recurrence is not None
                and (task.recurrence.series_id, task.recurrence.occurrence)
                == (series_id, occurrence)
            ),
            None,
        )
        return self.get(user_id, found.id) if found is not None and found.id else None

    def save(self, task: Task) -> None:
        assert task.id is not None
        self.rows[task.id] = task

    def delete(self, task: Task) -> None:
        assert task.id is not None
        del self.rows[task.id]
        self._deleted.append(task)

    def deleted_snapshot(self, user_id: str, task_id: int) -> dict[str, Any] | None:
        for event in reversed(self._outbox.events):
            if (event["type"], event.data["user_id"], event.data["task_id"]) == (
                catalogue.TASK_DELETED,
                user_id,
                task_id,
            ):
                return dict(event.data["task_data"])
        return None

    def is_deleted(self, task: Task) -> bool:
        return any(deleted is task for deleted in self._deleted)


class FakeProcessed:
    def __init__(self) -> None:
        self.results: dict[tuple[str, str], dict[str, Any] | None] = {}

    def seen(self, consumer: str, event_id: str) -> dict[str, Any] | None:
        return self.results.get((consumer, event_id))

    def record(self, consumer: str, event_id: str, result: dict[str, Any] | None = None) -> None:
        self.results[(consumer, event_id)] = result


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[CloudEvent] = []

    def add(self, event: CloudEvent) -> None:
        self.events.append(event)


class FakeUnitOfWork(AbstractUnitOfWork):
    """One in-memory store shared by every `with` block, like one database."""

    def __init__(self, zones: dict[str, str] | None = None) -> None:
        self.users = FakeUsers(zones or {})
        self.outbox = FakeOutbox()
        self.tasks = FakeTasks(self.outbox)
        self.processed = FakeProcessed()
        self.commits = 0

    def __enter__(self) -> FakeUnitOfWork:
        self.tasks.seen = []
        return super().__enter__()

    def _commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        pass

    def event_types(self) -> list[str]:
        return [event["type"] for event in self.outbox.events]
