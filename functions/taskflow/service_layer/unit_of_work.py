"""The unit of work: one database transaction around one use case.

`commit()` first writes every changed task and turns the domain events its tasks recorded into
CloudEvents in the outbox, then commits: the change and its events land together or not at all
(the transactional outbox of specs/persistence.md). Leaving the `with` block without commit rolls
everything back.

`AbstractUnitOfWork` is what the use cases of service_layer/ depend on: the repositories as
ports (the Protocols below) and commit/rollback. `SqlAlchemyUnitOfWork` is the product's; the
service-layer unit tests run the same use cases on fakes (tests/service_layer/fakes.py).

The product's unit of work is one SQLAlchemy Core `Connection` and its transaction, not an ORM
`Session`: the repositories only execute Core statements, and a Session's construction, its
transaction state machine and its `execute` cost twice what a Connection's do (358 against 183 us
per unit of work, about five per create; specs/benchmarks.md, round 3).
"""

from __future__ import annotations

import abc
import dataclasses
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol, Self
from zoneinfo import ZoneInfo

from cloudevents.http import CloudEvent
from sqlalchemy.engine import Connection, Engine

from taskflow import catalogue
from taskflow.adapters import locks
from taskflow.adapters.repository import (
    SqlAlchemyOutbox,
    SqlAlchemyProcessedEvents,
    SqlAlchemyTaskRepository,
    SqlAlchemyUserRepository,
)
from taskflow.domain import events
from taskflow.domain.model import Task

DEFAULT_SOURCE = catalogue.source("create-task")


class UserRepository(Protocol):
    def zone(self, user_id: str) -> ZoneInfo: ...


class TaskRepository(Protocol):
    # Every task this unit of work loaded or added, in order: commit stores their events.
    seen: list[Task]

    def add(self, task: Task) -> None: ...
    def get(self, user_id: str, task_id: int) -> Task | None: ...
    def get_occurrence(self, user_id: str, series_id: str, occurrence: int) -> Task | None: ...
    def save(self, task: Task) -> None: ...
    def delete(self, task: Task) -> None: ...
    def deleted_snapshot(self, user_id: str, task_id: int) -> dict[str, Any] | None: ...
    def is_deleted(self, task: Task) -> bool: ...


class ProcessedEvents(Protocol):
    def seen(self, consumer: str, event_id: str) -> dict[str, Any] | None: ...
    def record(
        self, consumer: str, event_id: str, result: dict[str, Any] | None = None
    ) -> None: ...


class Outbox(Protocol):
    def add(self, event: CloudEvent) -> None: ...


class AbstractUnitOfWork(abc.ABC):
    users: UserRepository
    tasks: TaskRepository
    processed: ProcessedEvents
    outbox: Outbox
    # The CloudEvent `source` of the events this unit of work emits.
    source: str = DEFAULT_SOURCE

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.rollback()

    def commit(self) -> None:
        self._store_changes_and_events()
        self._commit()

    @abc.abstractmethod
    def _commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    def _store_changes_and_events(self) -> None:
        now = datetime.now(UTC)
        for task in self.tasks.seen:
            if not task.events:
                continue
            if not self.tasks.is_deleted(task):
                self.tasks.save(task)
            for event in task.events:
                self.outbox.add(cloudevent_for(event, source=self.source, time=now))
            task.events.clear()


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    users: SqlAlchemyUserRepository
    tasks: SqlAlchemyTaskRepository
    processed: SqlAlchemyProcessedEvents
    outbox: SqlAlchemyOutbox

    def __init__(self, engine: Engine, *, source: str = DEFAULT_SOURCE) -> None:
        self.engine = engine
        self.source = source

    def __enter__(self) -> Self:
        # The connection begins its transaction at its first statement (SQLite: BEGIN
        # IMMEDIATE, database.make_engine) and ends it at commit, rollback or close.
        self.connection: Connection = self.engine.connect()
        self.users = SqlAlchemyUserRepository(self.connection)
        self.tasks = SqlAlchemyTaskRepository(self.connection, self.users)
        self.processed = SqlAlchemyProcessedEvents(self.connection)
        self.outbox = SqlAlchemyOutbox(self.connection)
        return super().__enter__()

    def __exit__(self, *exc_info: object) -> None:
        try:
            super().__exit__(*exc_info)
        finally:
            self.connection.close()

    def _commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()

    def exclusively(self, name: str) -> AbstractContextManager[bool]:
        """The lock `name` of this database, held across several units of work and outside any
        transaction: True while held, False at once if another process or thread holds it."""
        return locks.try_exclusive(self.engine, name)


def cloudevent_for(event: events.Event, *, source: str, time: datetime) -> CloudEvent:
    """The CloudEvent of a domain event; its data follows specs/events/<type>.schema.json."""
    data: dict[str, Any] = dataclasses.asdict(event)
    if isinstance(event, events.TaskEvent):
        data = {
            # "com.taskflow.task.completed" -> "completed", the name the original design used
            "event_type": event.cloudevent_type.rsplit(".", 1)[1],
            **data,
            "timestamp": time.isoformat(),
        }
    return catalogue.new_event(
        event.cloudevent_type, data, user_id=event.user_id, source=source, time=time
    )
