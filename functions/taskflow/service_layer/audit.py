"""write-audit's use case: one audit entry per task event, exactly once.

What an entry records per operation (who = the event's user, when = the event's timestamp):
- created: before None, after the full task;
- updated: before and after of the fields that changed (the event's `changes`);
- completed: before and after of `completed` and `completed_at`;
- deleted: before the full task as it was, after None.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Self

import sqlalchemy.exc
from cloudevents.http import CloudEvent

from taskflow import catalogue
from taskflow.adapters.audit_log import AuditEntry, SqlAlchemyAuditLog
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork

CONSUMER = "write-audit"


class AuditUnitOfWork(SqlAlchemyUnitOfWork):
    audit_log: SqlAlchemyAuditLog

    def __enter__(self) -> Self:
        super().__enter__()
        self.audit_log = SqlAlchemyAuditLog(self.connection)
        return self


def record(event: CloudEvent, uow_factory: Callable[[], AuditUnitOfWork]) -> bool:
    """Append the entry of `event` and mark the event processed, in one transaction. Returns
    False, changing nothing, when the event was already recorded (a redelivery)."""
    try:
        with uow_factory() as uow:
            if uow.processed.seen(CONSUMER, event["id"]) is not None:
                return False
            uow.audit_log.add(entry_for(event))
            uow.processed.record(CONSUMER, event["id"])
            uow.commit()
    except sqlalchemy.exc.IntegrityError:
        # A concurrent delivery of the same event committed first; its entry is the one.
        return False
    return True


def entry_for(event: CloudEvent) -> AuditEntry:
    data: dict[str, Any] = event.data
    before, after = _before_and_after(event["type"], data)
    return AuditEntry(
        event_id=event["id"],
        user_id=data["user_id"],
        task_id=data["task_id"],
        operation=data["event_type"],
        actor=data["user_id"],
        at=datetime.fromisoformat(data["timestamp"]),
        before=before,
        after=after,
    )


def _before_and_after(
    type_: str, data: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    task = data["task_data"]
    if type_ == catalogue.TASK_CREATED:
        return None, task
    if type_ == catalogue.TASK_UPDATED:
        changes = data["changes"]
        after = {name: change["after"] for name, change in changes.items()}
        if data.get("reason"):
            # TaskFlow made this change itself (a series that ended): the history says why.
            after["reason"] = data["reason"]
        return {name: change["before"] for name, change in changes.items()}, after
    if type_ == catalogue.TASK_COMPLETED:
        return (
            {"completed": False, "completed_at": None},
            {"completed": True, "completed_at": task["completed_at"]},
        )
    if type_ == catalogue.TASK_DELETED:
        # Deleted by TaskFlow itself (a next occurrence taken back): the history says why.
        return task, ({"reason": data["reason"]} if data.get("reason") else None)
    raise ValueError(f"{type_!r} is not a task event")
