"""Repositories: load and store aggregates, converting rows to domain objects explicitly.

The task repository keeps cosmicpython's `seen` list: every task it handed out or took in, so the
unit of work can write their changes and turn their recorded events into outbox rows at commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from cloudevents import conversion as cloudevents_conversion
from cloudevents.http import CloudEvent
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from taskflow import catalogue
from taskflow.adapters import orm
from taskflow.domain.model import Priority, Recurrence, Reminder, Task
from taskflow.domain.reminders import reminder_times

# Where a repository runs its statements: the units of work give it a Core Connection (the hot
# command and consumer paths), the API's reads an ORM Session; both execute Core statements alike.
Database = Session | sa.Connection

DEFAULT_TIMEZONE = "UTC"
# How many of the newest task.created events show the highest task id ever given (SQLite).
_RECENT_CREATIONS = 100

# The statements every command and every delivery runs, built once with bind parameters:
# building one (its clauses, then its cache key) costs several times what SQLite takes to run
# it (issue 13: ~190 us built per call, ~45 us prebuilt; specs/benchmarks.md).
_TIMEZONE = sa.select(orm.users.c.timezone).where(orm.users.c.id == sa.bindparam("user_id"))
_INSERT_TASK = sa.insert(orm.tasks).returning(orm.tasks.c.id)
# The SET clause comes from the parameters' keys (the task's row); the key names differ from
# every column so that the WHERE's parameters cannot be taken for new values.
_UPDATE_TASK = sa.update(orm.tasks).where(
    orm.tasks.c.id == sa.bindparam("where_task_id"),
    orm.tasks.c.user_id == sa.bindparam("where_user_id"),
)
_DELETE_CHILDREN = [
    sa.delete(table).where(table.c.task_id == sa.bindparam("task_id"))
    for table in (orm.task_tags, orm.task_reminders)
]
_INSERT_TAGS = sa.insert(orm.task_tags)
_INSERT_REMINDERS = sa.insert(orm.task_reminders)
_INSERT_OUTBOX = sa.insert(orm.outbox)
_SEEN = sa.select(orm.processed_events.c.result).where(
    orm.processed_events.c.consumer == sa.bindparam("consumer"),
    orm.processed_events.c.event_id == sa.bindparam("event_id"),
)
_RECORD = sa.insert(orm.processed_events)
# The outbox relay's three statements, run after every write (specs/benchmarks.md, round 3).
_PENDING = (
    sa.select(orm.outbox.c.id, orm.outbox.c.topic, orm.outbox.c.payload)
    .where(orm.outbox.c.published_at.is_(None))
    .order_by(orm.outbox.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
_MARK_PUBLISHED = (
    sa.update(orm.outbox)
    .where(orm.outbox.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(published_at=sa.bindparam("published_at"))
)
_newest_creations = (
    sa.select(sa.func.json_extract(orm.outbox.c.payload, "$.data.task_id").label("id"))
    .where(orm.outbox.c.type == catalogue.TASK_CREATED)
    .order_by(orm.outbox.c.id.desc())
    .limit(_RECENT_CREATIONS)
    .subquery()
)
_HIGHEST_ID_GIVEN = sa.select(sa.func.max(_newest_creations.c.id))
_HIGHEST_ID_IN_TABLE = sa.select(sa.func.max(orm.tasks.c.id))


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password_hash: str
    timezone: str = DEFAULT_TIMEZONE
    webhook_url: str | None = None
    created_at: datetime | None = None


def normalise_email(email: str) -> str:
    return email.strip().lower()


class SqlAlchemyUserRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Each user's zone, read once per transaction: a create needs it for the command, the
        # task's row and its reminder schedule.
        self._zones: dict[str, ZoneInfo] = {}

    def get(self, user_id: str) -> User | None:
        row = self.db.execute(sa.select(orm.users).where(orm.users.c.id == user_id)).first()
        return User(**row._mapping) if row else None

    def get_by_email(self, email: str) -> User | None:
        query = sa.select(orm.users).where(orm.users.c.email == normalise_email(email))
        row = self.db.execute(query).first()
        return User(**row._mapping) if row else None

    def add(self, user: User) -> None:
        """Insert `user`; a taken email raises sqlalchemy.exc.IntegrityError at flush."""
        values = {
            "id": user.id,
            "email": normalise_email(user.email),
            "password_hash": user.password_hash,
            "timezone": user.timezone,
            "webhook_url": user.webhook_url,
            "created_at": user.created_at or datetime.now(UTC),
        }
        self.db.execute(sa.insert(orm.users).values(values))

    def timezone(self, user_id: str) -> str:
        """The user's IANA zone name; UTC for a user without a row (external identity)."""
        timezone = self.db.execute(_TIMEZONE, {"user_id": user_id}).scalar_one_or_none()
        return timezone or DEFAULT_TIMEZONE

    def zone(self, user_id: str) -> ZoneInfo:
        """The user's zone: the one lookup every use case reads dates in."""
        zone = self._zones.get(user_id)
        if zone is None:
            zone = self._zones[user_id] = ZoneInfo(self.timezone(user_id))
        return zone

    def set_timezone(self, user_id: str, timezone: str) -> None:
        """Change the zone, and move the sort moment of the user's all-day tasks with it (an
        all-day task ends at midnight local time, see due_sort_moment)."""
        zone = ZoneInfo(timezone)
        self._zones.pop(user_id, None)
        self.db.execute(
            sa.update(orm.users).where(orm.users.c.id == user_id).values(timezone=timezone)
        )
        all_day = sa.select(orm.tasks.c.id, orm.tasks.c.due_date).where(
            orm.tasks.c.user_id == user_id, orm.tasks.c.due_date.is_not(None)
        )
        for task_id, due_date in self.db.execute(all_day).all():
            self.db.execute(
                sa.update(orm.tasks)
                .where(orm.tasks.c.id == task_id)
                .values(due_sort_at=end_of_day(due_date, zone))
            )

    def set_webhook_url(self, user_id: str, webhook_url: str | None) -> None:
        self.db.execute(
            sa.update(orm.users).where(orm.users.c.id == user_id).values(webhook_url=webhook_url)
        )


class SqlAlchemyTaskRepository:
    def __init__(self, db: Database, users: SqlAlchemyUserRepository) -> None:
        self.db = db
        self.users = users
        self.seen: list[Task] = []
        self.deleted: list[Task] = []
        # One object per task per unit of work, so two loads never diverge.
        self._identity: dict[int, Task] = {}
        # The row each task was last written with in this transaction (its tags and reminder
        # rows follow from it and the zone): saving an unchanged task writes nothing. A create
        # adds the task, then records its event, and commit saved it again, all over: 18% of
        # create-task's CPU (specs/benchmarks.md, round 3).
        self._written: dict[int, dict[str, Any]] = {}

    def add(self, task: Task) -> None:
        """Insert the task and give it its id (needed by the events it records next)."""
        zone = self._zone(task.user_id)
        written = task_to_row(task, zone)
        row = dict(written)
        if task.id is not None:
            row["id"] = task.id  # a restored task keeps the id it had (deleted_snapshot)
        elif (reused := self._sqlite_id_floor()) is not None:
            row["id"] = reused
        task.id = self.db.execute(_INSERT_TASK, row).scalar_one()
        self._write_children(task, zone)
        self._written[task.id] = written
        self._remember(task)

    def get(self, user_id: str, task_id: int) -> Task | None:
        """The user's task, or None (also for another user's task: ids are not secrets)."""
        known = self._identity.get(task_id)
        if known is not None:
            visible = known.user_id == user_id and not self.is_deleted(known)
            return known if visible else None
        query = sa.select(orm.tasks).where(
            orm.tasks.c.id == task_id, orm.tasks.c.user_id == user_id
        )
        row = self.db.execute(query).mappings().first()
        if row is None:
            return None
        task = task_from_row(row)
        self._remember(task)
        return task

    def get_occurrence(self, user_id: str, series_id: str, occurrence: int) -> Task | None:
        query = sa.select(orm.tasks.c.id).where(
            orm.tasks.c.user_id == user_id,
            orm.tasks.c.series_id == series_id,
            orm.tasks.c.occurrence == occurrence,
        )
        task_id = self.db.execute(query).scalar_one_or_none()
        return self.get(user_id, task_id) if task_id is not None else None

    def save(self, task: Task) -> None:
        """Write the task's current state over its row, tags and reminder schedule."""
        assert task.id is not None, "save() is for tasks that were added"
        zone = self._zone(task.user_id)
        row = task_to_row(task, zone)
        if self._written.get(task.id) == row:
            return
        self.db.execute(
            _UPDATE_TASK, {**row, "where_task_id": task.id, "where_user_id": task.user_id}
        )
        for delete in _DELETE_CHILDREN:
            self.db.execute(delete, {"task_id": task.id})
        self._write_children(task, zone)
        self._written[task.id] = row

    def delete(self, task: Task) -> None:
        """Remove the task; its tag and reminder rows go with it (ON DELETE CASCADE)."""
        self.db.execute(
            sa.delete(orm.tasks).where(
                orm.tasks.c.id == task.id, orm.tasks.c.user_id == task.user_id
            )
        )
        self.deleted.append(task)
        self._remember(task)

    def _sqlite_id_floor(self) -> int | None:
        """The id a new task must take on SQLite so that no id is ever given twice, or None
        when SQLite's own choice is safe.

        SQLite gives a new row max(id) + 1, so deleting the newest task would hand its number to
        the next one (a user saw #2 deleted and the next task become #2 again; an undo of the
        delete could no longer bring it back). The task.created events in the outbox hold the
        highest id ever given; when the table's max is below it, count on from there. Not only
        the newest event: a restore (Undo of a delete) announces an old id again, so the newest
        ones are read (a window: a hundred restores in a row, with no task added between, is
        beyond any user). PostgreSQL's sequence never repeats a number, so it needs none of
        this."""
        if dialect_name(self.db) != "sqlite":
            return None
        highest_given = int(self.db.execute(_HIGHEST_ID_GIVEN).scalar() or 0)
        in_table = self.db.execute(_HIGHEST_ID_IN_TABLE).scalar() or 0
        return highest_given + 1 if in_table < highest_given else None

    def deleted_snapshot(self, user_id: str, task_id: int) -> dict[str, Any] | None:
        """The task as it was when this user deleted it: the newest task.deleted event's
        task_data in the outbox (kept after publishing), or None if the user never deleted it."""
        if self.db.execute(sa.select(orm.tasks.c.id).where(orm.tasks.c.id == task_id)).first():
            return None  # the id is in use again: it is not a deleted task
        rows = self.db.execute(
            sa.select(orm.outbox.c.payload)
            .where(orm.outbox.c.user_id == user_id, orm.outbox.c.type == catalogue.TASK_DELETED)
            .order_by(orm.outbox.c.id.desc())
        ).scalars()
        for payload in rows:
            data = payload.get("data") or {}
            if data.get("task_id") == task_id and data.get("user_id") == user_id:
                return dict(data["task_data"])
        return None

    def is_deleted(self, task: Task) -> bool:
        return any(deleted is task for deleted in self.deleted)

    def _remember(self, task: Task) -> None:
        assert task.id is not None
        self._identity[task.id] = task
        if not any(seen is task for seen in self.seen):
            self.seen.append(task)

    def _zone(self, user_id: str) -> ZoneInfo:
        return self.users.zone(user_id)

    def _write_children(self, task: Task, zone: ZoneInfo) -> None:
        if task.tags:
            self.db.execute(
                _INSERT_TAGS,
                [{"task_id": task.id, "user_id": task.user_id, "tag": tag} for tag in task.tags],
            )
        # A completed task has nothing left to remind of: the sweep need not even see it.
        schedule = [] if task.completed else reminder_times(task, zone)
        if schedule:
            self.db.execute(
                _INSERT_REMINDERS,
                [
                    {
                        "task_id": task.id,
                        "reminder_id": reminder.id,
                        "user_id": task.user_id,
                        "remind_at": moment,
                    }
                    for reminder, moment in schedule
                ],
            )


def dialect_name(db: Database) -> str:
    return db.dialect.name if isinstance(db, sa.Connection) else db.get_bind().dialect.name


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The UTC moment a local calendar day ends (the next local midnight)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def due_sort_moment(task: Task, zone: ZoneInfo) -> datetime | None:
    """When the task's due ends, in UTC: a timed due is its moment, an all-day due lasts until
    the end of that day in the owner's zone. Sorting and 'overdue' use this one column."""
    if task.due_at is not None:
        return task.due_at
    if task.due_date is not None:
        return end_of_day(task.due_date, zone)
    return None


def task_to_row(task: Task, zone: ZoneInfo) -> dict[str, Any]:
    recurrence = task.recurrence
    return {
        "user_id": task.user_id,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "completed_at": task.completed_at,
        "priority": task.priority.value,
        "priority_rank": task.priority.rank,
        "tags": list(task.tags),
        "tags_text": " ".join(task.tags),
        "due_at": task.due_at,
        "due_date": task.due_date,
        "due_sort_at": due_sort_moment(task, zone),
        "reminders": [reminder.to_dict() for reminder in task.reminders],
        "recurrence": recurrence.to_dict() if recurrence else None,
        "recurrence_rule": recurrence.rule if recurrence else None,
        "recurrence_mode": recurrence.mode.value if recurrence else None,
        "series_id": recurrence.series_id if recurrence else None,
        "occurrence": recurrence.occurrence if recurrence else None,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


def task_from_row(row: RowMapping) -> Task:
    return Task(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        description=row["description"],
        completed=row["completed"],
        completed_at=row["completed_at"],
        priority=Priority(row["priority"]),
        tags=list(row["tags"]),
        due_at=row["due_at"],
        due_date=row["due_date"],
        reminders=[Reminder.from_dict(reminder) for reminder in row["reminders"]],
        recurrence=Recurrence.from_dict(row["recurrence"]) if row["recurrence"] else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@dataclass(frozen=True)
class OutboxMessage:
    """One CloudEvent waiting to be published to one topic."""

    id: int
    topic: str
    payload: dict[str, Any]

    @property
    def event(self) -> CloudEvent:
        return cloudevents_conversion.from_dict(CloudEvent, self.payload)


class SqlAlchemyOutbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, event: CloudEvent) -> None:
        """Store `event` once for each topic its type travels on (catalogue.CATALOGUE)."""
        topics = catalogue.event_type(event["type"]).topics
        if not topics:
            return
        payload = cloudevents_conversion.to_dict(event)
        now = datetime.now(UTC)
        self.db.execute(
            _INSERT_OUTBOX,
            [
                {
                    "event_id": event["id"],
                    "topic": topic,
                    "type": event["type"],
                    "user_id": event.get("partitionkey", ""),
                    "payload": payload,
                    "created_at": now,
                }
                for topic in topics
            ],
        )

    def pending(self, limit: int = 100) -> list[OutboxMessage]:
        """The oldest unpublished rows, oldest first. Nothing is locked: the relay publishes them
        after this transaction ends and one relay runs at a time (service_layer/outbox_relay)."""
        rows = self.db.execute(_PENDING, {"limit": limit}).all()
        return [OutboxMessage(*row) for row in rows]

    def mark_published(self, ids: list[int]) -> None:
        if ids:
            self.db.execute(_MARK_PUBLISHED, {"ids": ids, "published_at": datetime.now(UTC)})


class SqlAlchemyProcessedEvents:
    """Which CloudEvents each consumer has handled, with the answer it gave."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def seen(self, consumer: str, event_id: str) -> dict[str, Any] | None:
        """The stored result of a handled event ({} when none was kept), None if not handled."""
        row = self.db.execute(_SEEN, {"consumer": consumer, "event_id": event_id}).first()
        if row is None:
            return None
        return row.result or {}

    def record(self, consumer: str, event_id: str, result: dict[str, Any] | None = None) -> None:
        """Mark the event handled. A concurrent duplicate fails at commit (primary key), which
        rolls its whole effect back."""
        self.db.execute(
            _RECORD,
            {
                "consumer": consumer,
                "event_id": event_id,
                "result": result if result is not None else {},
                "processed_at": datetime.now(UTC),
            },
        )
