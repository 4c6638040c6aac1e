"""Initial schema: every table of specs/architecture.md, and full-text search over tasks.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Search (specs/search.md) differs by dialect: PostgreSQL gets a generated tsvector column with a
GIN index; SQLite gets an FTS5 table over tasks, kept in step by triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types: a migration must not change when orm.py does later.
# (taskflow.adapters.orm.UtcDateTime only converts values; its DDL is this.)
UTC_DATETIME = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# The searchable text of a task: title, description and tags. 'simple' (no stemming, no stop
# words), with every run of non-alphanumerics made a space first, splits words exactly as
# SQLite's unicode61 tokenizer does (PostgreSQL's parser would keep "work/urgent" or "foo.com"
# whole), so both databases find the same tasks.
POSTGRES_SEARCH_VECTOR = (
    "to_tsvector('simple', regexp_replace(coalesce(title, '') || ' ' || coalesce(description, '')"
    " || ' ' || coalesce(tags_text, ''), '[^[:alnum:]]+', ' ', 'g'))"
)
SQLITE_FTS_COLUMNS = "title, description, tags_text"
SQLITE_FTS_VALUES_NEW = "new.id, new.title, new.description, new.tags_text"
SQLITE_FTS_VALUES_OLD = "'delete', old.id, old.title, old.description, old.tags_text"


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("before", JSON_DOCUMENT, nullable=True),
        sa.Column("after", JSON_DOCUMENT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_log_event_id")),
    )
    op.create_index(op.f("ix_audit_log_task_id"), "audit_log", ["task_id"], unique=False)
    op.create_index(op.f("ix_audit_log_user_id"), "audit_log", ["user_id"], unique=False)

    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_index(op.f("ix_conversations_user_id"), "conversations", ["user_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("published_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", "topic", name=op.f("uq_outbox_event_id_topic")),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )

    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("result", JSON_DOCUMENT, nullable=True),
        sa.Column("processed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "reminder_deliveries",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("reminder_id", sa.String(length=64), nullable=False),
        sa.Column("remind_at", UTC_DATETIME, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("fired_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint(
            "task_id", "reminder_id", "remind_at", name=op.f("pk_reminder_deliveries")
        ),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        sa.Column("priority", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("priority_rank", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tags", JSON_DOCUMENT, nullable=False),
        sa.Column("tags_text", sa.Text(), server_default="", nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("due_sort_at", UTC_DATETIME, nullable=True),
        sa.Column("reminders", JSON_DOCUMENT, nullable=False),
        sa.Column("recurrence_rule", sa.Text(), nullable=True),
        sa.Column("recurrence_mode", sa.String(length=16), nullable=True),
        sa.Column("recurrence", JSON_DOCUMENT, nullable=True),
        sa.Column("series_id", sa.String(length=64), nullable=True),
        sa.Column("occurrence", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "NOT (due_at IS NOT NULL AND due_date IS NOT NULL)", name=op.f("ck_tasks_one_due")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index("ix_tasks_user_completed", "tasks", ["user_id", "completed"], unique=False)
    op.create_index("ix_tasks_user_created", "tasks", ["user_id", "created_at"], unique=False)
    op.create_index("ix_tasks_user_due_sort", "tasks", ["user_id", "due_sort_at"], unique=False)
    op.create_index("ix_tasks_user_priority", "tasks", ["user_id", "priority_rank"], unique=False)
    op.create_index("ix_tasks_user_updated", "tasks", ["user_id", "updated_at"], unique=False)
    op.create_index(
        "uq_tasks_series_occurrence",
        "tasks",
        ["series_id", "occurrence"],
        unique=True,
        postgresql_where=sa.text("series_id IS NOT NULL"),
        sqlite_where=sa.text("series_id IS NOT NULL"),
    )

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), server_default="", nullable=False),
        sa.Column("tool_calls", JSON_DOCUMENT, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index(
        op.f("ix_messages_conversation_id"), "messages", ["conversation_id"], unique=False
    )
    op.create_index(op.f("ix_messages_user_id"), "messages", ["user_id"], unique=False)

    op.create_table(
        "task_reminders",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("reminder_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("remind_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_reminders_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "reminder_id", name=op.f("pk_task_reminders")),
    )
    op.create_index(
        op.f("ix_task_reminders_remind_at"), "task_reminders", ["remind_at"], unique=False
    )

    op.create_table(
        "task_tags",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_tags_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "tag", name=op.f("pk_task_tags")),
    )
    op.create_index("ix_task_tags_user_tag", "task_tags", ["user_id", "tag"], unique=False)
    _create_search()


def _create_search() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE tasks ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({POSTGRES_SEARCH_VECTOR}) STORED"
        )
        op.execute("CREATE INDEX ix_tasks_search_vector ON tasks USING gin (search_vector)")
        return
    # An external-content FTS5 table: the text lives once, in tasks; the triggers keep the index
    # in step with every insert, update and delete, whoever writes.
    op.execute(
        f"CREATE VIRTUAL TABLE tasks_fts USING fts5({SQLITE_FTS_COLUMNS}, content='tasks', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        f"CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN "
        f"INSERT INTO tasks_fts(rowid, {SQLITE_FTS_COLUMNS}) VALUES ({SQLITE_FTS_VALUES_NEW}); END"
    )
    op.execute(
        f"CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN "
        f"INSERT INTO tasks_fts(tasks_fts, rowid, {SQLITE_FTS_COLUMNS}) "
        f"VALUES ({SQLITE_FTS_VALUES_OLD}); END"
    )
    op.execute(
        f"CREATE TRIGGER tasks_fts_update AFTER UPDATE ON tasks BEGIN "
        f"INSERT INTO tasks_fts(tasks_fts, rowid, {SQLITE_FTS_COLUMNS}) "
        f"VALUES ({SQLITE_FTS_VALUES_OLD}); "
        f"INSERT INTO tasks_fts(rowid, {SQLITE_FTS_COLUMNS}) VALUES ({SQLITE_FTS_VALUES_NEW}); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("tasks_fts_insert", "tasks_fts_delete", "tasks_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS tasks_fts")
    for table in (
        "task_tags",
        "task_reminders",
        "messages",
        "users",
        "tasks",
        "reminder_deliveries",
        "processed_events",
        "outbox",
        "conversations",
        "audit_log",
    ):
        op.drop_table(table)
