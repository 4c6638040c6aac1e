"""Arrange and inspect the database a function under test shares, through the product's own
message bus and repositories (the code create-task runs), without a process in between."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from cloudevents.conversion import from_dict
from cloudevents.http import CloudEvent
from sqlalchemy.engine import Engine
from taskflow.adapters import orm
from taskflow.adapters.audit_log import AuditEntry, SqlAlchemyAuditLog
from taskflow.adapters.database import make_engine
from taskflow.adapters.repository import User
from taskflow.domain import commands
from taskflow.service_layer import task_commands
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork


@contextmanager
def _engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def run_command(database_url: str, command: commands.Command) -> dict[str, Any]:
    """Handle `command` as create-task would (its events land in the outbox); the task dict."""
    with _engine(database_url) as engine:
        result = task_commands.handle(
            command,
            SqlAlchemyUnitOfWork(engine),
            command_id=str(uuid.uuid4()),
            source="tests",
        )
    return result["task"]


def add_user(database_url: str, user_id: str, *, webhook_url: str | None = None) -> None:
    user = User(id=user_id, email=f"{user_id}@example.com", password_hash="-")
    with _engine(database_url) as engine, SqlAlchemyUnitOfWork(engine) as uow:
        uow.users.add(user)
        uow.users.set_webhook_url(user_id, webhook_url)
        uow.commit()


def audit_history(database_url: str, user_id: str, task_id: int) -> list[AuditEntry]:
    with _engine(database_url) as engine, engine.connect() as session:
        return SqlAlchemyAuditLog(session).history(user_id, task_id)


def count_rows(database_url: str, table: sa.Table) -> int:
    with _engine(database_url) as engine, engine.connect() as session:
        return session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def reminder_deliveries(database_url: str) -> int:
    return count_rows(database_url, orm.reminder_deliveries)


def tasks(database_url: str) -> int:
    return count_rows(database_url, orm.tasks)


def outbox_events(database_url: str, topic: str) -> list[CloudEvent]:
    """Every event the outbox holds for `topic`, oldest first (published or not)."""
    query = sa.select(orm.outbox.c.payload).where(orm.outbox.c.topic == topic)
    with _engine(database_url) as engine, engine.connect() as session:
        payloads = session.execute(query.order_by(orm.outbox.c.id)).scalars().all()
    return [from_dict(CloudEvent, payload) for payload in payloads]
