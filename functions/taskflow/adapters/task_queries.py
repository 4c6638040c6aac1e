"""The read side: search, filter, sort and page a user's tasks in the database.

Every filter is SQL over indexed columns and the full-text index (PostgreSQL tsvector + GIN,
SQLite FTS5), never a scan in Python. Pages are read by keyset (a cursor holding the last row's
sort value and id) along one index per sort, and the total is counted up to TOTAL_CAP, so a
user with 100,000 tasks pays for one page, not for all of them. specs/search.md describes the
parameters and their rules.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
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
LAST_PAGE = "last"
# A page number beyond any list (TOTAL_CAP) yet whose OFFSET fits a 64-bit integer in both
# databases: ?page=99999999999999999999 overflowed the driver (a 500, issue 12, item 6).
PAGE_MAX = 1_000_000
# Counting every match costs a read of every match; beyond this many, "more than TOTAL_CAP" is
# all a list needs to show.
TOTAL_CAP = 1000
# Letters and digits only: whatever else the user types (quotes, AND, *, :, &) cannot reach the
# query syntax of FTS5 or tsquery.
SEARCH_WORD = re.compile(r"[^\W_]+")
TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}

Database = Session | sa.Connection


@dataclass(frozen=True)
class TaskQuery:
    search: str | None = None
    # Words of the title alone (every one starts a word of it): how the chat finds "the rent
    # task" by name among all of a user's tasks.
    title: str | None = None
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
    # A page number (OFFSET: fine near the start) or "last" (the end, read backwards).
    page: int | Literal["last"] = 1
    page_size: int = PAGE_SIZE_DEFAULT
    # Where the page starts instead: next_cursor or prev_cursor of an earlier answer.
    cursor: Cursor | None = None

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
        title = (text["title"] or "").strip() or None
        if title and not SEARCH_WORD.search(title):
            raise ValidationError("title", "needs at least one letter or digit")
        sort = _choice("sort", text["sort"], Sort, "due")
        order = _choice("order", text["order"], Order, "asc")
        cursor = Cursor.decode(text["cursor"]) if text["cursor"] else None
        if cursor is not None:
            if text["page"]:
                raise ValidationError("page", "cannot be sent with cursor: the cursor is the page")
            if (cursor.sort, cursor.order) != (sort, order):
                raise ValidationError(
                    "cursor",
                    f"belongs to sort={cursor.sort}&order={cursor.order}: "
                    "send it with the sort and order of the list it came from",
                )
        return cls(
            search=search,
            title=title,
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
            sort=sort,
            order=order,
            page=_page(text["page"]),
            page_size=_integer("page_size", text["page_size"], PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX),
            cursor=cursor,
        )


PARAMETERS = tuple(TaskQuery.__dataclass_fields__)


@dataclass(frozen=True)
class Cursor:
    """A position in one sort of the list: just after (or, `before`, just before) the task with
    this sort value and id. Sent to clients as an opaque string."""

    sort: Sort
    order: Order
    before: bool
    value: datetime | int | str | None
    task_id: int

    def encode(self) -> str:
        value = iso(self.value) if isinstance(self.value, datetime) else self.value
        direction = "before" if self.before else "after"
        text = json.dumps([self.sort, self.order, direction, value, self.task_id])
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor `encode` made; anything else raises ValidationError naming `cursor`."""
        try:
            padded = text + "=" * (-len(text) % 4)
            sort, order, direction, value, task_id = json.loads(
                base64.urlsafe_b64decode(padded.encode("ascii"))
            )
            if sort not in get_args(Sort) or order not in get_args(Order):
                raise ValueError("unknown sort")
            if direction not in ("before", "after") or not _storable_integer(task_id):
                raise ValueError("bad position")
            return cls(sort, order, direction == "before", _sort_value(sort, value), task_id)
        except (ValueError, TypeError, UnicodeError, binascii.Error):
            raise ValidationError(
                "cursor", "is not a cursor of this list: send next_cursor or prev_cursor as given"
            ) from None


def _storable_integer(value: Any) -> bool:
    """An int both databases can compare with a column (SQLite refuses anything wider)."""
    return type(value) is int and -(2**63) <= value < 2**63


def _sort_value(sort: Sort, value: Any) -> datetime | int | str | None:
    if sort == "priority" and _storable_integer(value):
        return value
    if sort == "title" and isinstance(value, str):
        return value
    if sort == "due" and value is None:
        return None
    if sort in ("due", "created", "updated") and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("naive moment")
        return moment
    raise ValueError(f"{value!r} is not a {sort} value")


@dataclass(frozen=True)
class Page:
    """One page of a list. `total` counts the matches up to TOTAL_CAP (`total_exact` is false
    when there are more); `page` is None when the page was not reached by number."""

    items: list[dict[str, Any]]
    total: int
    total_exact: bool
    page: int | None
    page_size: int
    has_more: bool
    next_cursor: str | None
    prev_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "total_exact": self.total_exact,
            "page": self.page,
            "page_size": self.page_size,
            "has_more": self.has_more,
            "next_cursor": self.next_cursor,
            "prev_cursor": self.prev_cursor,
        }


@dataclass(frozen=True)
class _Window:
    """The rows of a page in the list's order, and whether tasks lie before and after it."""

    rows: Sequence[sa.RowMapping]
    more_before: bool
    more_after: bool


@dataclass(frozen=True)
class _Keys:
    """What a page walks: each match's id and sort value, under these conditions."""

    task_id: sa.ColumnElement[int]
    value: sa.ColumnElement[Any]
    conditions: list[sa.ColumnElement[bool]]
    # The segments in the list's order: True for the tasks without a sort value (no due).
    segments: tuple[bool, ...]


def list_tasks(db: Database, user_id: str, query: TaskQuery, tz: ZoneInfo, now: datetime) -> Page:
    if _dialect(db) == "postgresql":
        # A list's statements are short index walks. For the capped count of several tags the
        # planner chose parallel workers, whose start-up cost 30 ms on a busy machine against
        # 6 ms without them; for this transaction only.
        db.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
    owned = orm.tasks.c.user_id == user_id
    conditions = [owned, *_filters(db, user_id, query, tz, now)]
    counted = _count(db, conditions) if _estimated_poorly(query) else None
    if counted is None:
        keys = _keys(conditions, query)
    elif counted[1]:
        # Few matches: gather them first (from the text or tag index), then sort only them.
        keys = _gathered(conditions, query)
    else:
        # Over TOTAL_CAP matches: a walk along the sort meets a page of them soon.
        keys = _keys([owned, *_filters(db, user_id, query, tz, now, walking=True)], query)
    if query.cursor is not None:
        window, number = _keyset(db, keys, query, query.cursor), None
    elif query.page == LAST_PAGE:
        window, number = _keyset(db, keys, query, None, backwards=True), None
    elif query.page > 1:
        window, number = _numbered(db, keys, query, query.page), query.page
    else:
        window, number = _keyset(db, keys, query, None), 1
    if counted is None:
        more = window.more_before or window.more_after
        counted = _count(db, conditions) if more else (len(window.rows), True)
    first, last = (window.rows[0], window.rows[-1]) if window.rows else (None, None)
    return Page(
        items=[task_from_row(row).to_dict() for row in window.rows],
        total=counted[0],
        total_exact=counted[1],
        page=number,
        page_size=query.page_size,
        # An empty page (its tasks deleted meanwhile) has no task to continue from.
        has_more=window.more_after and last is not None,
        next_cursor=_cursor(query, last, before=False) if window.more_after else None,
        prev_cursor=_cursor(query, first, before=True) if window.more_before else None,
    )


def _count(db: Database, conditions: list[sa.ColumnElement[bool]]) -> tuple[int, bool]:
    """The number of matches up to TOTAL_CAP, and whether that is all of them."""
    capped = sa.select(orm.tasks.c.id).where(*conditions).limit(TOTAL_CAP + 1).subquery()
    counted = int(db.execute(sa.select(sa.func.count()).select_from(capped)).scalar_one())
    return min(counted, TOTAL_CAP), counted <= TOTAL_CAP


def _estimated_poorly(query: TaskQuery) -> bool:
    """Filters whose number of matches PostgreSQL's planner cannot estimate: a searched prefix
    (it guesses hundreds for a word with eleven matches, or with thousands) and several tags
    at once (it multiplies each tag's share as if tags were independent). With a wrong guess
    it walks a sort's index hoping to meet matches soon while there are a handful, or gathers
    and sorts thousands while a short walk would do. Counting first tells which is right."""
    return bool(query.search or query.title) or (query.tags_mode == "all" and len(query.tags) > 1)


def _keys(conditions: list[sa.ColumnElement[bool]], query: TaskQuery) -> _Keys:
    return _Keys(orm.tasks.c.id, SORT_COLUMNS[query.sort], conditions, _segments(query))


def _segments(query: TaskQuery) -> tuple[bool, ...]:
    if query.sort not in NULLABLE_SORTS:
        return (False,)
    return (True,) if query.no_date else (False, True)


def _gathered(conditions: list[sa.ColumnElement[bool]], query: TaskQuery) -> _Keys:
    """The matches found on their own (MATERIALIZED: planned without the page's order and
    limit, so by the text or tag index), then walked."""
    value = SORT_COLUMNS[query.sort]
    matching = (
        sa.select(orm.tasks.c.id, value.label(SORT_VALUE))
        .where(*conditions)
        .cte("matching")
        .prefix_with("MATERIALIZED")
    )
    return _Keys(matching.c.id, matching.c[SORT_VALUE], [], _segments(query))


def _rows(db: Database, keys: sa.Select[Any], descending: bool) -> list[sa.RowMapping]:
    """The tasks of a page whose ids and sort values `keys` selects: the keys come from an
    index alone, and only the page's rows are read from the table."""
    page = keys.subquery("page")
    direction = sa.desc if descending else sa.asc
    statement = (
        sa.select(orm.tasks, page.c[SORT_VALUE])
        .join(page, orm.tasks.c.id == page.c.id)
        .order_by(direction(page.c[SORT_VALUE]).nulls_last(), direction(page.c.id))
    )
    return list(db.execute(statement).mappings())


def _cursor(query: TaskQuery, row: sa.RowMapping | None, *, before: bool) -> str | None:
    if row is None:
        return None
    return Cursor(query.sort, query.order, before, row[SORT_VALUE], row["id"]).encode()


def _numbered(db: Database, keys: _Keys, query: TaskQuery, number: int) -> _Window:
    """Page `number` by OFFSET: the database walks every match before it, so deep pages cost
    what they skip (cursors and page=last do not)."""
    descending = query.order == "desc"
    direction = sa.desc if descending else sa.asc
    rows = _rows(
        db,
        sa.select(keys.task_id.label("id"), keys.value.label(SORT_VALUE))
        .where(*keys.conditions)
        # Tasks without a due come last whichever the direction; the id keeps pages stable.
        .order_by(direction(keys.value).nulls_last(), direction(keys.task_id))
        .limit(query.page_size + 1)
        .offset((number - 1) * query.page_size),
        descending,
    )
    return _Window(rows[: query.page_size], True, len(rows) > query.page_size)


def _keyset(
    db: Database, keys: _Keys, query: TaskQuery, cursor: Cursor | None, *, backwards: bool = False
) -> _Window:
    """The page after the cursor (or from the start), or before it (or from the end) when the
    cursor points backwards: one more row than the page is read to learn whether more follow."""
    backwards = backwards or (cursor is not None and cursor.before)
    start = (cursor.value, cursor.task_id) if cursor is not None else None
    descending = (query.order == "desc") != backwards
    rows = _walk(db, keys, start, descending, backwards, query.page_size + 1)
    page, further = rows[: query.page_size], len(rows) > query.page_size
    if backwards:
        return _Window(page[::-1], further, cursor is not None)
    return _Window(page, cursor is not None, further)


def _walk(
    db: Database,
    keys: _Keys,
    start: tuple[Any, int] | None,
    descending: bool,
    backwards: bool,
    limit: int,
) -> list[sa.RowMapping]:
    """Up to `limit` rows strictly after `start` (a sort value and id), walking the list's order
    (or its reverse, `backwards`). Tasks without a due are a segment of their own, last in the
    list's order: each segment is a range of one index, `(user_id, sort value, id)`, walked in
    one direction without sorting, which NULLS LAST in one ORDER BY would not allow."""
    follows = operator.lt if descending else operator.gt
    direction = sa.desc if descending else sa.asc
    segments = list(keys.segments)
    if backwards:
        segments.reverse()
    if start is not None:
        # Resume in the start's own segment: the ones before it in this walk are done (dated
        # tasks come before undated ones in the list's order).
        rank = {False: 0, True: 1} if not backwards else {True: 0, False: 1}
        segments = [s for s in segments if rank[s] >= rank[start[0] is None]]
    rows: list[sa.RowMapping] = []
    for without_value in segments:
        where = list(keys.conditions)
        # The start lies in this segment: continue after it; a later segment starts afresh.
        after = start if start is not None and (start[0] is None) == without_value else None
        if without_value:
            where.append(keys.value.is_(None))
            order = [direction(keys.task_id)]
            if after is not None:
                where.append(follows(keys.task_id, after[1]))
        else:
            if True in keys.segments:  # the undated tasks are walked apart
                where.append(keys.value.is_not(None))
            order = [direction(keys.value), direction(keys.task_id)]
            if after is not None:
                # A row-value comparison: one index range on (value, id), ties included.
                position = sa.tuple_(sa.literal(after[0], keys.value.type), sa.literal(after[1]))
                where.append(follows(sa.tuple_(keys.value, keys.task_id), position))
        page_keys = (
            sa.select(keys.task_id.label("id"), keys.value.label(SORT_VALUE))
            .where(*where)
            .order_by(*order)
            .limit(limit - len(rows))
        )
        rows += _rows(db, page_keys, descending)
        if len(rows) >= limit:
            break
    return rows


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


SORT_VALUE = "sort_value"
SORT_COLUMNS: dict[str, sa.ColumnElement[Any]] = {
    "due": orm.tasks.c.due_sort_at,
    "priority": orm.tasks.c.priority_rank,
    "title": sa.func.lower(orm.tasks.c.title),
    "created": orm.tasks.c.created_at,
    "updated": orm.tasks.c.updated_at,
}
NULLABLE_SORTS = {"due"}


def _filters(
    db: Database,
    user_id: str,
    query: TaskQuery,
    tz: ZoneInfo,
    now: datetime,
    *,
    walking: bool = False,
) -> list[sa.ColumnElement[bool]]:
    """The query's conditions. `walking` (many matches, known from the count): on PostgreSQL,
    search words and several tags are tested on each row the walk meets, in forms no index
    serves, so the planner cannot choose to gather every match instead."""
    tasks = orm.tasks
    walk_test = walking and _dialect(db) == "postgresql"
    conditions: list[sa.ColumnElement[bool]] = []
    if query.status != "all":
        completed = sa.true() if query.status == "completed" else sa.false()
        conditions.append(tasks.c.completed == completed)
    if query.priority:
        # The rank, not the name: (user_id, priority_rank, id) is indexed.
        conditions.append(tasks.c.priority_rank.in_([p.rank for p in query.priority]))
    if query.tags and walk_test and query.tags_mode == "all":
        # tasks.tags holds the same normalised tags as task_tags, in the row the walk reads.
        every_tag = sa.cast(sa.literal(json.dumps(list(query.tags)), sa.Text), JSONB)
        conditions.append(sa.cast(tasks.c.tags, JSONB).op("@>")(every_tag))
    elif query.tags:
        conditions += _tagged(user_id, query.tags, query.tags_mode)
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
        conditions.append(_matches(db, query.search, walking=walk_test))
    if query.title:
        conditions += _titled(db, query.title, walking=walk_test)
    return conditions


def _titled(db: Database, words: str, *, walking: bool) -> list[sa.ColumnElement[bool]]:
    """Every word starts a word of the title: the full-text index finds the candidates (the
    words start words of the title, description or tags), and the title of each candidate is
    checked, so no row outside the index's answer is read."""
    # A word starts after a space, or a hyphen, slash or bracket read as one.
    spaced = sa.literal(" ") + sa.func.lower(orm.tasks.c.title)
    for mark in "-/([":
        spaced = sa.func.replace(spaced, mark, " ")
    return [
        _matches(db, words, walking=walking),
        *(spaced.like(f"% {word.lower()}%") for word in SEARCH_WORD.findall(words)),
    ]


def _tagged(user_id: str, tags: tuple[str, ...], mode: TagsMode) -> list[sa.ColumnElement[bool]]:
    """Any tag: one lookup of (user, tags) -> ids; all tags: one such lookup per tag, each a
    range of the index (user_id, tag, task_id), which the database can probe per task while
    walking a page instead of grouping every tagged task first."""
    task_tags = orm.task_tags
    groups = [tags] if mode == "any" else [(tag,) for tag in tags]
    return [
        orm.tasks.c.id.in_(
            sa.select(task_tags.c.task_id).where(
                task_tags.c.user_id == user_id, task_tags.c.tag.in_(group)
            )
        )
        for group in groups
    ]


def _due_between(
    start: datetime | None, end: datetime | None, tz: ZoneInfo
) -> sa.ColumnElement[bool]:
    """Timed tasks due in [start, end) and all-day tasks whose day (in `tz`) overlaps it, on
    due_sort_at alone, which (user_id, due_sort_at, id) indexes: a timed due is its moment; an
    all-day due ends at the next local midnight, so its day overlaps [start, end) when that
    midnight is after `start` and at most the end of the day holding the range's last moment.
    One column, so the planner estimates the range once (tested also on due_at and due_date, it
    multiplied the same condition's share twice, expected a dozen rows and sorted thousands)."""
    tasks = orm.tasks
    due, timed = tasks.c.due_sort_at, tasks.c.due_at.is_not(None)
    bounds: list[sa.ColumnElement[bool]] = []
    timed_in: list[sa.ColumnElement[bool]] = [timed]
    all_day_in: list[sa.ColumnElement[bool]] = [tasks.c.due_at.is_(None)]
    if start is not None:
        bounds.append(due >= start)
        all_day_in.append(due > start)
    if end is not None:
        last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
        bounds.append(due <= max(end, end_of_day(last_day, tz)))
        timed_in.append(due < end)
    if not bounds:
        bounds.append(due.is_not(None))
    return sa.and_(*bounds, sa.or_(sa.and_(*timed_in), sa.and_(*all_day_in)))


def _matches(db: Database, search: str, *, walking: bool = False) -> sa.ColumnElement[bool]:
    """Every word of `search` must start a word of the title, description or tags ("gro"
    finds "groceries"). `walking`: ts_match_vq, the function behind @@, which no index serves."""
    words = [word.lower() for word in SEARCH_WORD.findall(search)]
    if _dialect(db) == "postgresql":
        vector = sa.literal_column("tasks.search_vector")
        tsquery = sa.func.to_tsquery(
            sa.literal_column("'simple'"), " & ".join(f"{word}:*" for word in words)
        )
        if walking:
            return sa.func.ts_match_vq(vector, tsquery, type_=sa.Boolean)
        return vector.op("@@")(tsquery)
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


def _page(value: str | None) -> int | Literal["last"]:
    if value is not None and value.lower() == LAST_PAGE:
        return LAST_PAGE
    try:
        return _integer("page", value, 1, 1, PAGE_MAX)
    except ValidationError:
        raise ValidationError(
            "page", f"must be a whole number from 1 to {PAGE_MAX}, or last"
        ) from None


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
