"""Indexes for listing at scale: every sort with its id tie-break, the frequent filters, and
full-text search within one user's tasks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

A user with 100,000 tasks made every list that was not "due ascending, no filter" read all of
them (specs/benchmarks.md, queries). Each sort now has an index `(user_id, <sort key>, id)`, so a
page (keyset or first/last) is a short walk of one index in either direction; the filters that
select a large share of a user's tasks have composite or partial indexes, so counting (up to the
cap) reads an index only. On PostgreSQL the GIN index of the search vector also holds `user_id`
(btree_gin, from contrib), so a rare word is found among one user's tasks in the index itself.

Plain CREATE INDEX, not CONCURRENTLY: migrations run in one transaction under an advisory lock
(migrations/env.py), and CONCURRENTLY cannot run inside a transaction. On a large live table,
create these indexes CONCURRENTLY by hand before upgrading; this revision then only drops the old
ones (it skips an index that exists already).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name -> columns (and the partial index's condition): the revision's own frozen copy of orm.py.
NEW_INDEXES: dict[str, tuple[list[str | sa.TextClause], str | None]] = {
    "ix_tasks_user_due_sort_id": (["user_id", "due_sort_at", "id"], None),
    "ix_tasks_user_priority_id": (["user_id", "priority_rank", "id"], None),
    "ix_tasks_user_title_id": (["user_id", sa.text("lower(title)"), "id"], None),
    "ix_tasks_user_created_id": (["user_id", "created_at", "id"], None),
    "ix_tasks_user_updated_id": (["user_id", "updated_at", "id"], None),
    # priority_rank after the unique id changes no order: it lets "pending, high" be counted
    # from the index alone.
    "ix_tasks_user_completed_due_sort_id": (
        ["user_id", "completed", "due_sort_at", "id", "priority_rank"],
        None,
    ),
    "ix_tasks_user_recurring_due_sort_id": (
        ["user_id", "due_sort_at", "id"],
        "recurrence_rule IS NOT NULL",
    ),
}
OLD_INDEXES: dict[str, list[str]] = {
    "ix_tasks_user_due_sort": ["user_id", "due_sort_at"],
    "ix_tasks_user_priority": ["user_id", "priority_rank"],
    "ix_tasks_user_created": ["user_id", "created_at"],
    "ix_tasks_user_updated": ["user_id", "updated_at"],
    "ix_tasks_user_completed": ["user_id", "completed"],
}


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    for name, (columns, where) in NEW_INDEXES.items():
        condition = sa.text(where) if where else None
        op.create_index(
            name,
            "tasks",
            columns,
            if_not_exists=True,
            postgresql_where=condition,
            sqlite_where=condition,
        )
    for name in OLD_INDEXES:
        op.drop_index(name, table_name="tasks")
    # The tag filters read (user, tag) -> task ids from the index alone.
    op.drop_index("ix_task_tags_user_tag", table_name="task_tags")
    op.create_index("ix_task_tags_user_tag_task", "task_tags", ["user_id", "tag", "task_id"])
    if _postgresql():
        # Trusted since PostgreSQL 13: the database's owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_tasks_search_vector_user "
            "ON tasks USING gin (user_id, search_vector)"
        )
        op.execute("DROP INDEX ix_tasks_search_vector")


def downgrade() -> None:
    if _postgresql():
        op.execute("CREATE INDEX ix_tasks_search_vector ON tasks USING gin (search_vector)")
        op.execute("DROP INDEX ix_tasks_search_vector_user")
        op.execute("DROP EXTENSION IF EXISTS btree_gin")
    op.drop_index("ix_task_tags_user_tag_task", table_name="task_tags")
    op.create_index("ix_task_tags_user_tag", "task_tags", ["user_id", "tag"])
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, "tasks", columns)
    for name in NEW_INDEXES:
        op.drop_index(name, table_name="tasks")
