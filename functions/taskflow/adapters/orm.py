"""The database tables, as SQLAlchemy Core metadata. The domain stays pure: repository.py converts
rows to and from domain objects explicitly instead of mapping classes onto these tables.

Search columns that only one dialect understands (PostgreSQL's generated tsvector, SQLite's FTS5
table and its triggers) are created by the migration, not declared here; see specs/search.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime on every dialect.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so the value is stored as naive UTC
    (one fixed format, so text comparison orders correctly) and handed back aware. Naive input is
    refused: guessing its zone is how reminders end up an hour off.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store only timezone-aware datetimes")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JsonDocument: sa.types.TypeEngine[Any] = sa.JSON().with_variant(JSONB(), "postgresql")

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    sa.Column("webhook_url", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # No foreign key to users: tokens of an external identity provider are accepted, so a task's
    # owner need not have a row in users (see specs/persistence.md).
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("completed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    sa.Column("priority", sa.String(16), nullable=False, server_default="none"),
    sa.Column("priority_rank", sa.Integer, nullable=False, server_default="0"),
    # The task's tags as the user ordered them; task_tags holds them again, one row each, for the
    # any/all filters, and tags_text feeds full-text search.
    sa.Column("tags", JsonDocument, nullable=False),
    sa.Column("tags_text", sa.Text, nullable=False, server_default=""),
    sa.Column("due_at", UtcDateTime, nullable=True),
    sa.Column("due_date", sa.Date, nullable=True),
    # The UTC moment a due ends: due_at for a timed task; for an all-day task the start of the next
    # day in the owner's zone. Sorting and "overdue" use it; see specs/persistence.md.
    sa.Column("due_sort_at", UtcDateTime, nullable=True),
    sa.Column("reminders", JsonDocument, nullable=False),
    sa.Column("recurrence_rule", sa.Text, nullable=True),
    sa.Column("recurrence_mode", sa.String(16), nullable=True),
    # The whole Recurrence value (Recurrence.to_dict()), so fields the domain adds survive a
    # round trip without a migration; the columns above exist for filtering and uniqueness.
    sa.Column("recurrence", JsonDocument, nullable=True),
    sa.Column("series_id", sa.String(64), nullable=True),
    sa.Column("occurrence", sa.Integer, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("NOT (due_at IS NOT NULL AND due_date IS NOT NULL)", name="one_due"),
    # One index per sort, ending in the id tie-break, so a page is a short walk of one index in
    # either direction (specs/search.md, Paging); the title's is below (an expression).
    sa.Index("ix_tasks_user_due_sort_id", "user_id", "due_sort_at", "id"),
    sa.Index("ix_tasks_user_priority_id", "user_id", "priority_rank", "id"),
    sa.Index("ix_tasks_user_created_id", "user_id", "created_at", "id"),
    sa.Index("ix_tasks_user_updated_id", "user_id", "updated_at", "id"),
    # The frequent filters: pending/completed (and overdue) by due, repeating tasks by due.
    # priority_rank after the unique id changes no order; "pending, high" counts from the index.
    sa.Index(
        "ix_tasks_user_completed_due_sort_id",
        "user_id",
        "completed",
        "due_sort_at",
        "id",
        "priority_rank",
    ),
    sa.Index(
        "ix_tasks_user_recurring_due_sort_id",
        "user_id",
        "due_sort_at",
        "id",
        postgresql_where=sa.text("recurrence_rule IS NOT NULL"),
        sqlite_where=sa.text("recurrence_rule IS NOT NULL"),
    ),
    # Each occurrence of a series exists at most once, however often its spawn is delivered.
    sa.Index(
        "uq_tasks_series_occurrence",
        "series_id",
        "occurrence",
        unique=True,
        postgresql_where=sa.text("series_id IS NOT NULL"),
        sqlite_where=sa.text("series_id IS NOT NULL"),
    ),
)

sa.Index("ix_tasks_user_title_id", tasks.c.user_id, sa.func.lower(tasks.c.title), tasks.c.id)

task_tags = sa.Table(
    "task_tags",
    metadata,
    sa.Column(
        "task_id", sa.Integer, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("tag", sa.String(64), primary_key=True),
    # Covers the tag filters: (user, tag) -> task ids from the index alone.
    sa.Index("ix_task_tags_user_tag_task", "user_id", "tag", "task_id"),
)

task_reminders = sa.Table(
    "task_reminders",
    metadata,
    sa.Column(
        "task_id", sa.Integer, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("reminder_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("remind_at", UtcDateTime, nullable=False, index=True),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.Column("type", sa.String(200), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    # The structured-mode CloudEvent (cloudevents.conversion.to_dict): attributes plus data.
    sa.Column("payload", JsonDocument, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("published_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("event_id", "topic"),
    sa.Index(
        "ix_outbox_pending",
        "id",
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    ),
)

processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("consumer", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("result", JsonDocument, nullable=True),
    sa.Column("processed_at", UtcDateTime, nullable=False),
)

reminder_deliveries = sa.Table(
    "reminder_deliveries",
    metadata,
    sa.Column("task_id", sa.Integer, primary_key=True),
    sa.Column("reminder_id", sa.String(64), primary_key=True),
    sa.Column("remind_at", UtcDateTime, primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("fired_at", UtcDateTime, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(200), nullable=False, unique=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("task_id", sa.Integer, nullable=False, index=True),
    sa.Column("operation", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("before", JsonDocument, nullable=True),
    sa.Column("after", JsonDocument, nullable=True),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "conversation_id",
        sa.Integer,
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False, server_default=""),
    sa.Column("tool_calls", JsonDocument, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
