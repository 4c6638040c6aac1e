"""The audit_log table: an append-only history of task operations. This repository can add and
read entries; it has no way to change or remove one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskflow.adapters import orm
from taskflow.adapters.repository import Database

# Built once: building the statement per entry cost more than running it (issue 13).
_INSERT = sa.insert(orm.audit_log)


@dataclass(frozen=True)
class AuditEntry:
    event_id: str
    user_id: str
    task_id: int
    operation: str
    actor: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class SqlAlchemyAuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, entry: AuditEntry) -> None:
        """Append `entry`; a second entry for the same event fails at commit (unique event_id)."""
        self.db.execute(_INSERT, dict(entry.__dict__))

    def history(self, user_id: str, task_id: int) -> list[AuditEntry]:
        """One user's entries for one task, oldest first."""
        table = orm.audit_log
        query = (
            sa.select(*(table.c[name] for name in AuditEntry.__dataclass_fields__))
            .where(table.c.user_id == user_id, table.c.task_id == task_id)
            .order_by(table.c.at, table.c.id)
        )
        return [AuditEntry(**row._mapping) for row in self.db.execute(query)]
