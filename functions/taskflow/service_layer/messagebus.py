"""Runs a command through its handler in one unit of work, exactly once per command id.

The command's CloudEvent id, scoped by the command's user, is the idempotency key: the result is
stored in processed_events (consumer 'create-task') in the same transaction as the change and its
outbox rows, so a retried command gets the first answer back and has no second effect. The user is
part of the key so that a command id reused with another user_id can never return someone
else's stored answer (their task) - it runs as that user's own command instead.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from taskflow.domain import commands
from taskflow.service_layer.handlers import HANDLERS
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork

CONSUMER = "create-task"
REPLAY_KEY_MAX = 200  # processed_events.event_id's length


def replay_key(command_id: str, user_id: str) -> str:
    """The key a command's answer is stored under: its user and its id (a digest when the two
    would not fit the column)."""
    key = f"{user_id}:{command_id}"
    if len(key) <= REPLAY_KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(f"{user_id}\n{command_id}".encode()).hexdigest()


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
    key = replay_key(command_id, command.user_id)
    with uow:
        earlier = uow.processed.seen(CONSUMER, key)
        if earlier is not None:
            return earlier
        task = HANDLERS[type(command)](command, uow, now)
        result = {"status": "ok", "task": task.to_dict() if task is not None else None}
        uow.processed.record(CONSUMER, key, result)
        uow.commit()
    return result
