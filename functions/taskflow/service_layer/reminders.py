"""send-reminder's use cases: find reminders that are due or coming, fire each exactly once, and
hand a fired reminder to the user's webhook. The one home of reminder logic: what is due and
firing it (here), the port that wakes send-reminder (`ReminderScheduler`, below), its adapters
(adapters/reminder_timers.py in process, adapters/dapr_jobs.py beside Dapr) and the table
queries (adapters/reminder_schedule.py).

Firing is one transaction: the reminder_deliveries row (primary key task, reminder, moment) and
the reminder.due outbox row commit together or not at all, and only while the task exists and is
not completed. Whoever fires first (sweep, timer, another replica) wins; the others change
nothing. Each firing records its lateness (fired_at - remind_at), the metric of the late-reminder
alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Protocol, Self

import sqlalchemy.exc
from cloudevents.http import CloudEvent

from taskflow import catalogue, metrics
from taskflow.adapters.reminder_schedule import (
    PendingReminder,
    ReminderKey,
    SqlAlchemyReminderSchedule,
)
from taskflow.domain.model import iso
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork

SOURCE = catalogue.source("send-reminder")
WEBHOOK_CONSUMER = "send-reminder-webhook"
# Timers are kept only for reminders this close; each sweep schedules the next ones.
TIMER_HORIZON = timedelta(hours=1)


class ReminderScheduler(Protocol):
    """The port send-reminder uses to be woken when a reminder falls due. Either adapter only
    cuts latency: each wake-up goes through `fire`, which re-checks the database, so a lost
    wake-up costs at most one sweep and a stale one fires nothing."""

    def schedule(self, keys: Iterable[ReminderKey]) -> None:
        """Make sure each of `keys` wakes send-reminder at its moment."""
        ...

    def replace_for_task(self, task_id: int, keys: Iterable[ReminderKey]) -> None:
        """The task's wake-ups become exactly `keys` (none: it was completed or deleted)."""
        ...


class ReminderUnitOfWork(SqlAlchemyUnitOfWork):
    reminders: SqlAlchemyReminderSchedule

    def __enter__(self) -> Self:
        super().__enter__()
        self.reminders = SqlAlchemyReminderSchedule(self.connection)
        return self


UnitOfWorkFactory = Callable[[], ReminderUnitOfWork]


def pending(
    uow_factory: UnitOfWorkFactory, *, due_by: datetime, task_id: int | None = None
) -> list[PendingReminder]:
    with uow_factory() as uow:
        return uow.reminders.pending(due_by=due_by, task_id=task_id)


def fire(uow_factory: UnitOfWorkFactory, key: ReminderKey, *, now: datetime) -> bool:
    """Fire `key` if it is still pending; True when this call fired it."""
    try:
        with uow_factory() as uow:
            reminder = uow.reminders.get_pending(key)
            if reminder is None:
                return False
            event = reminder_due_event(reminder)
            uow.reminders.record_delivery(reminder, event_id=event["id"], fired_at=now)
            uow.outbox.add(event)
            uow.commit()
    except sqlalchemy.exc.IntegrityError:
        return False
    metrics.REMINDER_LATENESS.observe((now - key.remind_at).total_seconds())
    return True


def sweep(
    uow_factory: UnitOfWorkFactory,
    scheduler: ReminderScheduler,
    *,
    relay: Callable[[], None],
    now: datetime,
) -> None:
    """Fire what is due, publish (also what an earlier failed relay left pending), then set
    timers for what comes within the horizon."""
    fire_due(uow_factory, now=now)
    relay()
    upcoming = pending(uow_factory, due_by=now + TIMER_HORIZON)
    scheduler.schedule(reminder.key for reminder in upcoming)


def reschedule_task(
    uow_factory: UnitOfWorkFactory, scheduler: ReminderScheduler, task_id: int, *, now: datetime
) -> None:
    """A task changed: its timers become what the database says is pending now (a later change
    may already have moved or removed its reminders; a completed or deleted task has none)."""
    upcoming = pending(uow_factory, due_by=now + TIMER_HORIZON, task_id=task_id)
    scheduler.replace_for_task(task_id, (reminder.key for reminder in upcoming))


def fire_due(uow_factory: UnitOfWorkFactory, *, now: datetime) -> int:
    """Fire every reminder due by `now` (catching up on any missed while down); how many fired."""
    due = pending(uow_factory, due_by=now)
    return sum(fire(uow_factory, reminder.key, now=now) for reminder in due)


def reminder_due_event(reminder: PendingReminder) -> CloudEvent:
    key = reminder.key
    return catalogue.new_event(
        catalogue.REMINDER_DUE,
        {
            "task_id": key.task_id,
            "reminder_id": key.reminder_id,
            "title": reminder.title,
            "due_at": iso(reminder.due_at),
            "due_date": reminder.due_date.isoformat() if reminder.due_date else None,
            "remind_at": iso(key.remind_at),
            "user_id": reminder.user_id,
        },
        user_id=reminder.user_id,
        source=SOURCE,
        # Derived from the firing itself, so every copy of one firing carries one id.
        event_id=f"reminder-{key.task_id}-{key.reminder_id}-{int(key.remind_at.timestamp())}",
    )


def deliver_to_webhook(
    uow_factory: UnitOfWorkFactory,
    event: CloudEvent,
    post: Callable[[str, CloudEvent], None],
) -> bool:
    """POST a reminder.due event to its user's webhook, if one is set, once per event id.
    Returns False when there was nothing to do (no webhook, or delivered before). When `post`
    raises, nothing is recorded, so a redelivery tries again."""
    with uow_factory() as uow:
        if uow.processed.seen(WEBHOOK_CONSUMER, event["id"]) is not None:
            return False
        user = uow.users.get(event.data["user_id"])
    webhook_url = user.webhook_url if user else None
    if webhook_url:
        post(webhook_url, event)
    try:
        with uow_factory() as uow:
            uow.processed.record(WEBHOOK_CONSUMER, event["id"])
            uow.commit()
    except sqlalchemy.exc.IntegrityError:
        pass  # a concurrent redelivery recorded it first
    return bool(webhook_url)
