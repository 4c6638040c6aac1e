"""The read side: search, filter, sort and page a user's tasks in the database.

Every filter is SQL over indexed columns and the full-text index (PostgreSQL tsvector + GIN,
SQLite FTS5), never a scan in Python. specs/search.md describes the parameters and their rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from taskflow.adapters import orm
from taskflow.adapters.repository import end_of_day, task_from_row
from taskflow.domain.errors import ValidationError
from taskflow.domain.inputs import parse_due
from taskflow.domain.model import Priority, iso, normalise_tags

Status = Literal["pending", "completed", "all"]
TagsMode = Literal["any", "all"]
Sort = Literal["due", "priority", "title", "created", "updated"]
Order = Literal["asc", "desc"]

PAGE_SIZE_MAX = 100
PAGE_SIZE_DEFAULT = 20
# Letters and digits only: whatever else the user types (quotes, AND, *, :, &) cannot reach the
# query syntax of FTS5 or tsquery.
SEARCH_WORD = re.compile(r"[^\W_]+")
TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}

Database = Session | sa.Connection


@dataclass(frozen=True)
class TaskQuery:
    search: str | None = None
    status: Status = "all"
    priority: tuple[Priority, ...] = ()
    tags: tuple[str, ...] = ()
    tags_mode: TagsMode = "any"
    # A range of due moments, from inclusive, to exclusive (UTC). An all-day task is in the range
    # when its day, in the user's zone, overlaps it.
    due_from: datetime | None = None
    due_to: datetime | None = None
    overdue: bool = False
    due_today: bool = False
    no_date: bool = False
    recurring: bool | None = None
    sort: Sort = "due"
    order: Order = "asc"
    page: int = 1
    page_size: int = PAGE_SIZE_DEFAULT

    @classmethod
    def from_params(cls, params: Mapping[str, Any], tz: ZoneInfo, now: datetime) -> TaskQuery:
        """Read URL query parameters. A list parameter may repeat or hold commas
        (priority=high,medium). Bad values raise ValidationError naming the parameter."""
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise ValidationError(unknown[0], f"is not a parameter; use {', '.join(PARAMETERS)}")
        text = {name: _single(params, name) for name in PARAMETERS}
        due_from = _due_bound("due_from", text["due_from"], tz, end=False)
        due_to = _due_bound("due_to", text["due_to"], tz, end=True)
        if due_from and due_to and due_from >= due_to:
            raise ValidationError("due_to", "must be after due_from")
        search = (text["search"] or "").strip() or None
        if search and not SEARCH_WORD.search(search):
            raise ValidationError("search", "needs at least one letter or digit")
        return cls(
            search=search,
            status=_choice("status", text["status"], Status, "all"),
            priority=tuple(dict.fromkeys(Priority.parse(v) for v in _many(params, "priority"))),
            tags=tuple(normalise_tags(_many(params, "tags"))),
            tags_mode=_choice("tags_mode", text["tags_mode"], TagsMode, "any"),
            due_from=due_from,
            due_to=due_to,
            overdue=_flag("overdue", text["overdue"]) or False,
            due_today=_flag("due_today", text["due_today"]) or False,
            no_date=_flag("no_date", text["no_date"]) or False,
            recurring=_flag("recurring", text["recurring"]),
            sort=_choice("sort", text["sort"], Sort, "due"),
            order=_choice("order", text["order"], Order, "asc"),
            page=_integer("page", text["page"], 1, 1, None),
            page_size=_integer("page_size", text["page_size"], PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX),
        )


PARAMETERS = tuple(TaskQuery.__dataclass_fields__)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "page": self.page,
            "page_size": self.page_size,
        }


def list_tasks(db: Database, user_id: str, query: TaskQuery, tz: ZoneInfo, now: datetime) -> Page:
    tasks = orm.tasks
    conditions = [tasks.c.user_id == user_id, *_filters(db, user_id, query, tz, now)]
    total = db.execute(sa.select(sa.func.count()).select_from(tasks).where(*conditions)).scalar()
    direction = sa.asc if query.order == "asc" else sa.desc
    sort_column = SORT_COLUMNS[query.sort]
    rows = db.execute(
        sa.select(tasks)
        .where(*conditions)
        # Tasks without a due come last whichever the direction; the id keeps pages stable.
        .order_by(direction(sort_column).nulls_last(), direction(tasks.c.id))
        .limit(query.page_size)
        .offset((query.page - 1) * query.page_size)
    ).mappings()
    return Page(
        items=[task_from_row(row).to_dict() for row in rows],
        total=int(total or 0),
        page=query.page,
        page_size=query.page_size,
    )


def get_task(db: Database, user_id: str, task_id: int) -> dict[str, Any] | None:
    row = (
        db.execute(
            sa.select(orm.tasks).where(orm.tasks.c.id == task_id, orm.tasks.c.user_id == user_id)
        )
        .mappings()
        .first()
    )
    return task_from_row(row).to_dict() if row else None


def audit_history(db: Database, user_id: str, task_id: int) -> list[dict[str, Any]]:
    """The task's history, oldest first (also after the task was deleted)."""
    audit = orm.audit_log
    rows = db.execute(
        sa.select(audit)
        .where(audit.c.user_id == user_id, audit.c.task_id == task_id)
        .order_by(audit.c.at, audit.c.id)
    ).mappings()
    return [
        {
            "event_id": row["event_id"],
            "task_id": row["task_id"],
            "operation": row["operation"],
            "actor": row["actor"],
            "at": iso(row["at"]),
            "before": row["before"],
            "after": row["after"],
        }
        for row in rows
    ]


SORT_COLUMNS: dict[str, sa.ColumnElement[Any]] = {
    "due": orm.tasks.c.due_sort_at,
    "priority": orm.tasks.c.priority_rank,
    "title": sa.func.lower(orm.tasks.c.title),
    "created": orm.tasks.c.created_at,
    "updated": orm.tasks.c.updated_at,
}


def _filters(
    db: Database, user_id: str, query: TaskQuery, tz: ZoneInfo, now: datetime
) -> list[sa.ColumnElement[bool]]:
    tasks = orm.tasks
    conditions: list[sa.ColumnElement[bool]] = []
    if query.status != "all":
        completed = sa.true() if query.status == "completed" else sa.false()
        conditions.append(tasks.c.completed == completed)
    if query.priority:
        conditions.append(tasks.c.priority.in_([p.value for p in query.priority]))
    if query.tags:
        conditions.append(tasks.c.id.in_(_tagged(user_id, query.tags, query.tags_mode)))
    if query.due_from or query.due_to:
        conditions.append(_due_between(query.due_from, query.due_to, tz))
    if query.overdue:
        conditions += [tasks.c.completed == sa.false(), tasks.c.due_sort_at < now]
    if query.due_today:
        today = now.astimezone(tz).date()
        conditions.append(_due_between(_start_of_day(today, tz), end_of_day(today, tz), tz))
    if query.no_date:
        conditions.append(tasks.c.due_sort_at.is_(None))
    if query.recurring is not None:
        rule = tasks.c.recurrence_rule
        conditions.append(rule.is_not(None) if query.recurring else rule.is_(None))
    if query.search:
        conditions.append(_matches(db, query.search))
    return conditions


def _tagged(user_id: str, tags: tuple[str, ...], mode: TagsMode) -> sa.Select[Any]:
    task_tags = orm.task_tags
    having = sa.select(task_tags.c.task_id).where(
        task_tags.c.user_id == user_id, task_tags.c.tag.in_(tags)
    )
    if mode == "all":
        # (task_id, tag) is the key, so counting rows counts distinct tags.
        having = having.group_by(task_tags.c.task_id).having(sa.func.count() == len(tags))
    return having


def _due_between(
    start: datetime | None, end: datetime | None, tz: ZoneInfo
) -> sa.ColumnElement[bool]:
    tasks = orm.tasks
    timed: list[sa.ColumnElement[bool]] = [tasks.c.due_at.is_not(None)]
    all_day: list[sa.ColumnElement[bool]] = [tasks.c.due_date.is_not(None)]
    if start is not None:
        timed.append(tasks.c.due_at >= start)
        all_day.append(tasks.c.due_date >= start.astimezone(tz).date())
    if end is not None:
        timed.append(tasks.c.due_at < end)
        last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
        all_day.append(tasks.c.due_date <= last_day)
    return sa.or_(sa.and_(*timed), sa.and_(*all_day))


def _matches(db: Database, search: str) -> sa.ColumnElement[bool]:
    """Every word of `search` must start a word of the title, description or tags ("gro"
    finds "groceries")."""
    words = [word.lower() for word in SEARCH_WORD.findall(search)]
    if _dialect(db) == "postgresql":
        tsquery = " & ".join(f"{word}:*" for word in words)
        return sa.literal_column("tasks.search_vector").op("@@")(
            sa.func.to_tsquery(sa.literal_column("'simple'"), tsquery)
        )
    fts_query = " ".join(f'"{word}"*' for word in words)
    matching = sa.text("SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH :fts_query").bindparams(
        fts_query=fts_query
    )
    return orm.tasks.c.id.in_(matching)


def _dialect(db: Database) -> str:
    bind = db.get_bind() if isinstance(db, Session) else db
    return bind.dialect.name


def _start_of_day(day: date, tz: ZoneInfo) -> datetime:
    return end_of_day(day - timedelta(days=1), tz)


def _single(params: Mapping[str, Any], name: str) -> str | None:
    """The parameter's value (the last one when repeated)."""
    values = _values(params, name)
    return str(values[-1]) if values else None


def _many(params: Mapping[str, Any], name: str) -> list[str]:
    """All values of a list parameter: repeated keys, a list, or commas."""
    return [
        part.strip()
        for value in _values(params, name)
        for part in str(value).split(",")
        if part.strip()
    ]


def _values(params: Mapping[str, Any], name: str) -> list[Any]:
    if name not in params:
        return []
    getlist = getattr(params, "getlist", None)  # werkzeug's MultiDict: request.args
    raw = getlist(name) if getlist else params[name]
    return list(raw) if isinstance(raw, list | tuple) else [raw]


def _choice(name: str, value: str | None, options: Any, default: str) -> Any:
    allowed = get_args(options)
    if value is None or value == "":
        return default
    if value.lower() not in allowed:
        raise ValidationError(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value.lower()


def _flag(name: str, value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    raise ValidationError(name, f"{value!r} is not true or false")


def _integer(name: str, value: str | None, default: int, low: int, high: int | None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(name, f"{value!r} is not a whole number") from None
    if number < low or (high is not None and number > high):
        limits = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ValidationError(name, f"must be {limits}")
    return number


def _due_bound(name: str, value: str | None, tz: ZoneInfo, *, end: bool) -> datetime | None:
    """A date means its whole day in the user's zone: due_from=2026-03-01 starts at that
    midnight, due_to=2026-03-31 ends at the next one. A date-time is that moment."""
    if not value:
        return None
    try:
        moment, day = parse_due(value, tz)
    except ValidationError as error:
        raise ValidationError(name, error.reason) from None
    if moment is not None:
        return moment
    assert day is not None
    return end_of_day(day, tz) if end else _start_of_day(day, tz)
