"""The transactional outbox and the processed-events store, on both databases."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from taskflow import catalogue
from taskflow.adapters import orm
from taskflow.domain import commands
from taskflow.domain.model import Task
from taskflow.service_layer import task_commands
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork, cloudevent_for

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class Crash(Exception):
    pass


def count(engine, table: sa.Table) -> int:
    with engine.connect() as session:
        return session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def create(engine, title: str = "t", command_id: str | None = None) -> dict:
    return task_commands.handle(
        commands.CreateTask(user_id="ann", title=title),
        SqlAlchemyUnitOfWork(engine),
        command_id=command_id or str(uuid.uuid4()),
        source="/tests",
        now=NOW,
    )


def test_a_crash_before_commit_leaves_neither_task_nor_event(engine):
    with pytest.raises(Crash), SqlAlchemyUnitOfWork(engine) as uow:
        task = Task.new("ann", "half-done", now=NOW)
        uow.tasks.add(task)
        task.mark_created()
        uow.outbox.add(cloudevent_for(task.events[0], source="/tests", time=NOW))
        uow.processed.record("create-task", "cmd-1", {"status": "ok"})
        written = uow.connection.execute(sa.select(sa.func.count()).select_from(orm.outbox))
        assert written.scalar_one() == 2  # inside the transaction, the rows are there
        raise Crash

    assert count(engine, orm.tasks) == 0
    assert count(engine, orm.outbox) == 0
    assert count(engine, orm.processed_events) == 0


def test_committed_events_stay_pending_until_published(engine):
    create(engine, "first")
    create(engine, "second")

    with SqlAlchemyUnitOfWork(engine) as uow:
        pending = uow.outbox.pending()
    # A relay that crashed before marking them gets the same rows again.
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert [m.id for m in uow.outbox.pending()] == [m.id for m in pending]

    assert [(m.topic, m.event.data["task_data"]["title"]) for m in pending] == [
        ("task-events", "first"),
        ("task-updates", "first"),
        ("task-events", "second"),
        ("task-updates", "second"),
    ]
    event = pending[0].event
    assert event["type"] == catalogue.TASK_CREATED
    assert event["partitionkey"] == "ann"
    assert event["source"] == "/tests"
    catalogue.validate(event["type"], event.data)
    assert pending[0].event["id"] == pending[1].event["id"]  # one event, two topics

    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.outbox.mark_published([m.id for m in pending[:3]])
        uow.commit()
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert [m.id for m in uow.outbox.pending()] == [pending[3].id]
        assert len(uow.outbox.pending(limit=0)) == 0


def test_an_event_without_topics_is_not_stored(engine):
    event = catalogue.new_event(
        catalogue.COMMAND_RESULT, {"status": "ok", "task": None}, user_id="ann", source="/t"
    )
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.outbox.add(event)
        uow.commit()
    assert count(engine, orm.outbox) == 0


def test_processed_events_remember_results_per_consumer(engine):
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.processed.seen("write-audit", "e1") is None
        uow.processed.record("write-audit", "e1")
        uow.processed.record("create-task", "e1", {"status": "ok", "task": None})
        uow.commit()

    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.processed.seen("write-audit", "e1") == {}
        assert uow.processed.seen("create-task", "e1") == {"status": "ok", "task": None}
        assert uow.processed.seen("send-reminder", "e1") is None


def test_the_same_command_delivered_twice_at_once_has_one_effect(engine):
    """Two deliveries race: one creates the task, the other returns its answer."""
    start = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        start.wait()
        try:
            results.append(create(engine, "raced", command_id="same-id"))
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(results) == 2 and results[0] == results[1]
    assert count(engine, orm.tasks) == 1
    assert count(engine, orm.outbox) == 2
