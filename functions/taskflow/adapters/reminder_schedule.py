"""Reminders as send-reminder sees them: the firing moments create-task wrote (task_reminders)
joined with their task, minus those already fired (reminder_deliveries)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from taskflow.adapters import orm
from taskflow.adapters.repository import Database


@dataclass(frozen=True, order=True)
class ReminderKey:
    """One firing: a reminder moved to another moment (snooze, edit) is a new firing."""

    remind_at: datetime
    task_id: int
    reminder_id: str


@dataclass(frozen=True)
class PendingReminder:
    key: ReminderKey
    user_id: str
    title: str
    due_at: datetime | None
    due_date: date | None


class SqlAlchemyReminderSchedule:
    def __init__(self, db: Database) -> None:
        self.db = db

    def pending(
        self, *, due_by: datetime | None = None, task_id: int | None = None
    ) -> list[PendingReminder]:
        """Reminders not fired yet whose task exists and is not completed, earliest first."""
        query = _pending_statement(due_by is not None, task_id is not None)
        rows = self.db.execute(query, {"due_by": due_by, "task_id": task_id})
        return [_pending(row) for row in rows]

    def get_pending(self, key: ReminderKey) -> PendingReminder | None:
        """`key` if it is still pending: the task was not completed, deleted or rescheduled."""
        query = _pending_query().where(
            orm.task_reminders.c.task_id == key.task_id,
            orm.task_reminders.c.reminder_id == key.reminder_id,
            orm.task_reminders.c.remind_at == key.remind_at,
        )
        row = self.db.execute(query).first()
        return _pending(row) if row else None

    def record_delivery(
        self, reminder: PendingReminder, *, event_id: str, fired_at: datetime
    ) -> None:
        """Mark `reminder` fired. Its primary key (task, reminder, moment) makes a concurrent
        second firing fail at commit, taking its outbox row down with it."""
        self.db.execute(
            sa.insert(orm.reminder_deliveries).values(
                task_id=reminder.key.task_id,
                reminder_id=reminder.key.reminder_id,
                remind_at=reminder.key.remind_at,
                user_id=reminder.user_id,
                event_id=event_id,
                fired_at=fired_at,
            )
        )


@functools.cache
def _pending_statement(by_due: bool, by_task: bool) -> sa.Select[tuple[object, ...]]:
    """`pending`'s statement, built once per shape (send-reminder asks it on every task event:
    building it cost more than running it, issue 13)."""
    query = _pending_query()
    if by_due:
        query = query.where(orm.task_reminders.c.remind_at <= sa.bindparam("due_by"))
    if by_task:
        query = query.where(orm.task_reminders.c.task_id == sa.bindparam("task_id"))
    return query


def _pending_query() -> sa.Select[tuple[object, ...]]:
    reminders, tasks, deliveries = orm.task_reminders, orm.tasks, orm.reminder_deliveries
    already_fired = (
        sa.select(deliveries.c.task_id)
        .where(
            deliveries.c.task_id == reminders.c.task_id,
            deliveries.c.reminder_id == reminders.c.reminder_id,
            deliveries.c.remind_at == reminders.c.remind_at,
        )
        .exists()
    )
    return (
        sa.select(
            reminders.c.remind_at,
            reminders.c.task_id,
            reminders.c.reminder_id,
            tasks.c.user_id,
            tasks.c.title,
            tasks.c.due_at,
            tasks.c.due_date,
        )
        .join(tasks, tasks.c.id == reminders.c.task_id)
        .where(tasks.c.completed == sa.false(), ~already_fired)
        .order_by(reminders.c.remind_at, reminders.c.task_id, reminders.c.reminder_id)
    )


def _pending(row: sa.Row[tuple[object, ...]]) -> PendingReminder:
    values = row._mapping
    return PendingReminder(
        key=ReminderKey(values["remind_at"], values["task_id"], values["reminder_id"]),
        user_id=values["user_id"],
        title=values["title"],
        due_at=values["due_at"],
        due_date=values["due_date"],
    )
