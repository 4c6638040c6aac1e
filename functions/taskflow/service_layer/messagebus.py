"""Runs a command through its handler in one unit of work, exactly once per command id.

The command's CloudEvent id is the idempotency key: the result is stored in processed_events
(consumer 'create-task') in the same transaction as the change and its outbox rows, so a retried
command gets the first answer back and has no second effect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from taskflow.domain import commands
from taskflow.service_layer.handlers import HANDLERS
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork

CONSUMER = "create-task"


def handle(
    command: commands.Command,
    uow: SqlAlchemyUnitOfWork,
    *,
    command_id: str,
    source: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Apply `command` and answer {"status": "ok", "task": {...}} (for a delete, the task's
    last state). Domain errors (ValidationError, TaskNotFound, InvalidOperation) propagate and
    nothing is committed."""
    uow.source = source
    try:
        return _handle_once(command, uow, command_id, now or datetime.now(UTC))
    except IntegrityError:
        # A concurrent twin won a race on a unique key: the same command id (processed_events)
        # or the same occurrence of a series. Its transaction has committed, so a second run
        # finds its result, or the occurrence it created, and changes nothing.
        return _handle_once(command, uow, command_id, now or datetime.now(UTC))


def _handle_once(
    command: commands.Command, uow: SqlAlchemyUnitOfWork, command_id: str, now: datetime
) -> dict[str, Any]:
    with uow:
        earlier = uow.processed.seen(CONSUMER, command_id)
        if earlier is not None:
            return earlier
        task = HANDLERS[type(command)](command, uow, now)
        result = {"status": "ok", "task": task.to_dict() if task is not None else None}
        uow.processed.record(CONSUMER, command_id, result)
        uow.commit()
    return result
