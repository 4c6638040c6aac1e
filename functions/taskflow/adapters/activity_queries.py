"""Read side for the tag list and the user-wide activity log (specs/rest-api.md, "Tags and
activity"): one indexed query each, the owner in the WHERE clause of both."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from taskflow.adapters import orm
from taskflow.domain.errors import ValidationError
from taskflow.domain.model import iso

TAG_STATUSES = ("pending", "completed", "all")
OPERATIONS = ("created", "updated", "completed", "deleted")
AUDIT_PARAMETERS = ("operation", "task_id", "since", "until", "limit", "page")
AUDIT_LIMIT_MAX = 200
AUDIT_LIMIT_DEFAULT = 50


def tag_counts(session: Session, user_id: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each tag of the user's tasks with how many tasks carry it (pending ones by default),
    most used first, then by name."""
    _only(params, ("status",))
    status = params.get("status", "pending")
    if status not in TAG_STATUSES:
        raise ValidationError("status", f"{status!r} is not one of {', '.join(TAG_STATUSES)}")
    tags, tasks = orm.task_tags, orm.tasks
    count = sa.func.count().label("count")
    query = (
        sa.select(tags.c.tag, count)
        .select_from(tags.join(tasks, tasks.c.id == tags.c.task_id))
        .where(tags.c.user_id == user_id, tasks.c.user_id == user_id)
        .group_by(tags.c.tag)
        .order_by(count.desc(), tags.c.tag)
    )
    if status != "all":
        query = query.where(tasks.c.completed.is_(status == "completed"))
    return [{"tag": row.tag, "count": row.count} for row in session.execute(query)]


def activity(session: Session, user_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The audit rows of all the user's tasks (deleted ones too), newest first; filters:
    `operation` (comma list), `task_id`, `since`/`until` (ISO 8601 moments), `limit`, `page`."""
    _only(params, AUDIT_PARAMETERS)
    audit = orm.audit_log
    query = sa.select(audit).where(audit.c.user_id == user_id)
    if raw := params.get("operation"):
        wanted = [word.strip().lower() for word in raw.split(",") if word.strip()]
        if bad := [word for word in wanted if word not in OPERATIONS]:
            raise ValidationError("operation", f"{bad[0]!r} is not one of {', '.join(OPERATIONS)}")
        query = query.where(audit.c.operation.in_(wanted))
    if raw := params.get("task_id"):
        query = query.where(audit.c.task_id == _whole("task_id", raw, low=1))
    if raw := params.get("since"):
        query = query.where(audit.c.at >= _moment("since", raw))
    if raw := params.get("until"):
        query = query.where(audit.c.at <= _moment("until", raw))
    limit = _whole("limit", params.get("limit", str(AUDIT_LIMIT_DEFAULT)), low=1)
    if limit > AUDIT_LIMIT_MAX:
        raise ValidationError("limit", f"must be at most {AUDIT_LIMIT_MAX}")
    page = _whole("page", params.get("page", "1"), low=1)
    rows = session.execute(
        query.order_by(audit.c.at.desc(), audit.c.id.desc())
        .limit(limit + 1)
        .offset((page - 1) * limit)
    ).mappings()
    entries = [_entry(row) for row in rows]
    items = entries[:limit]
    _fill_titles(session, user_id, items)
    return {"items": items, "page": page, "has_more": len(entries) > limit}


def _fill_titles(session: Session, user_id: str, items: list[dict[str, Any]]) -> None:
    """An update or a completion records only what changed: take the title from the task as it
    is now, or, for a task deleted since, from its deletion or creation entry."""
    missing = {item["task_id"] for item in items if not item["title"]}
    if not missing:
        return
    tasks, audit = orm.tasks, orm.audit_log
    titles = dict(
        session.execute(
            sa.select(tasks.c.id, tasks.c.title).where(
                tasks.c.user_id == user_id, tasks.c.id.in_(missing)
            )
        ).all()
    )
    if gone := missing - titles.keys():
        rows = session.execute(
            sa.select(audit.c.task_id, audit.c.before, audit.c.after)
            .where(
                audit.c.user_id == user_id,
                audit.c.task_id.in_(gone),
                audit.c.operation.in_(("created", "deleted")),
            )
            .order_by(audit.c.id)
        )
        for task_id, before, after in rows:
            titles[task_id] = (before or {}).get("title") or (after or {}).get("title") or ""
    for item in items:
        item["title"] = item["title"] or titles.get(item["task_id"], "")


def _entry(row: sa.RowMapping) -> dict[str, Any]:
    after, before = row["after"] or {}, row["before"] or {}
    return {
        "event_id": row["event_id"],
        "task_id": row["task_id"],
        "title": after.get("title") or before.get("title") or "",
        "operation": row["operation"],
        "actor": row["actor"],
        "at": iso(row["at"]),
        "before": row["before"],
        "after": row["after"],
    }


def _only(params: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    for name in params:
        if name not in allowed:
            raise ValidationError(name, f"is not a parameter; use {', '.join(allowed)}")


def _whole(name: str, raw: str, *, low: int) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise ValidationError(name, f"{raw!r} is not a whole number")
    value = int(raw)
    if value < low:
        raise ValidationError(name, f"must be at least {low}")
    return value


def _moment(name: str, raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationError(name, f"{raw!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
