"""Queries at scale: one user's 100,000 tasks among 1,000,000, listed through
`task_queries.list_tasks` (the REST API's and the chat's read path): search, each filter, each
sort, first and last page. Reports p50/p95 per query and saves each query's plan (EXPLAIN
ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite) beside the results.

The data is generated once, deterministically, by `task_rows`: every tenth task belongs to the
benchmarked user (so their rows are spread through the table as they would be), and titles,
descriptions, tags, priorities, dues, completion and recurrence vary over the whole range the
filters look at. PostgreSQL is loaded with COPY, SQLite with executemany in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from taskflow.adapters import orm, task_queries
from taskflow.adapters.database import make_engine, migrate

from bench import backing as backings
from bench.context import Context
from bench.report import Result
from bench.stats import percentile

USER_ID = "bench-user"
SHARE = 10  # every SHARE-th task is the benchmarked user's
OTHER_USERS = 999
GOAL_P95_MS = 20.0
BATCH = 5000
ZONE = ZoneInfo("UTC")
VERBS = ("buy", "call", "write", "fix", "plan", "read", "clean", "pay", "book", "send")
OBJECTS = ("milk", "report", "car", "taxes", "dentist", "groceries", "invoice", "garden", "flight")
TAGS = ("work", "home", "errands", "urgent", "later")
PRIORITIES = ("none", "low", "medium", "high")  # rank = index

# COPY names every column of the table (PostgreSQL computes the search vector itself).
TASK_COLUMNS = [column.name for column in orm.tasks.columns]
NULLABLE_COLUMNS = [column.name for column in orm.tasks.columns if column.nullable]


@dataclass(frozen=True)
class Query:
    label: str
    params: dict[str, str]


def queries(now: datetime, user_tasks: int) -> list[Query]:
    page_size = task_queries.PAGE_SIZE_DEFAULT
    last_page = str(math.ceil(user_tasks / page_size))
    week_ahead = (now + timedelta(days=7)).date().isoformat()
    return [
        Query("first page (due asc)", {}),
        # The last page as a client reaches it: page=last reads the order backwards.
        Query("last page (due asc)", {"page": task_queries.LAST_PAGE}),
        # By number, OFFSET walks every task before it (kept for old clients; not the goal's).
        Query("last page by number (due asc)", {"page": last_page}),
        Query("search 'groceries'", {"search": "groceries"}),
        Query("search 'buy gro' (2 prefixes)", {"search": "buy gro"}),
        Query("search rare '4242'", {"search": "4242"}),
        Query("status=pending", {"status": "pending"}),
        Query("status=completed", {"status": "completed"}),
        Query("priority=high", {"priority": "high"}),
        Query("tags=urgent", {"tags": "urgent"}),
        Query("tags=work,urgent all", {"tags": "work,urgent", "tags_mode": "all"}),
        Query("due next 7 days", {"due_from": now.date().isoformat(), "due_to": week_ahead}),
        Query("overdue", {"overdue": "true"}),
        Query("due_today", {"due_today": "true"}),
        Query("no_date", {"no_date": "true"}),
        Query("recurring", {"recurring": "true"}),
        Query("sort due desc", {"sort": "due", "order": "desc"}),
        Query("sort priority desc", {"sort": "priority", "order": "desc"}),
        Query("sort title", {"sort": "title"}),
        Query("sort title, last page", {"sort": "title", "page": task_queries.LAST_PAGE}),
        Query("sort created desc", {"sort": "created", "order": "desc"}),
        Query("sort updated desc", {"sort": "updated", "order": "desc"}),
        Query("pending+high by due", {"status": "pending", "priority": "high"}),
    ]


def run(context: Context) -> Result:
    total = context.scaled(1_000_000, 100_000)
    repeats = context.scaled(30, 10)
    user_tasks = total // SHARE
    now = datetime.now(UTC)
    if context.backing == "postgres":
        assert context.postgres_admin_url is not None
        database = backings.postgres_database(context.postgres_admin_url)
    else:
        database = backings.database("embedded", context.workdir, None)
    with database as url:
        migrate(url)
        engine = make_engine(url)
        try:
            load_seconds = _load(engine, total, now)
            rows, plans = _measure(engine, queries(now, user_tasks), repeats, now, context)
            size = _database_size(engine)
        finally:
            engine.dispose()
    context.results_dir.mkdir(parents=True, exist_ok=True)
    plan_path = context.results_dir / f"queries-{context.backing}-explain.txt"
    plan_path.write_text(plans)
    return Result(
        "queries",
        context.backing,
        rows,
        details={
            "tasks_total": total,
            "tasks_of_user": user_tasks,
            "repeats_per_query": repeats,
            "load_seconds": round(load_seconds, 1),
            "database_size_mib": size,
            "explain_file": plan_path.name,
        },
        notes=[
            f"{user_tasks:,} tasks of one user among {total:,}; loaded in {load_seconds:.0f} s",
            f"each query {repeats} times through task_queries.list_tasks (count + page)",
            f"plans: {plan_path.name}",
        ],
    )


def task_rows(total: int, now: datetime) -> Iterator[dict[str, Any]]:
    """Task n (1..total): deterministic, so every run and both databases hold the same data."""
    for n in range(1, total + 1):
        user = USER_ID if n % SHARE == 0 else f"other-{n % OTHER_USERS}"
        k = n // SHARE
        tags = list(dict.fromkeys([TAGS[k % 5], TAGS[(k // 5) % 5]][: 1 + k % 2]))
        due_at: datetime | None = None
        due_date: date | None = None
        due_sort_at: datetime | None = None
        if k % 3 == 1:
            due_at = now + timedelta(hours=(n * 7919) % 4000 - 2000)
            due_sort_at = due_at
        elif k % 3 == 2:
            due_date = now.date() + timedelta(days=(n * 7919) % 200 - 100)
            due_sort_at = datetime.combine(due_date + timedelta(days=1), datetime.min.time(), UTC)
        completed = k % 4 == 0
        recurring = k % 10 == 3
        priority = (k // 3) % 4
        created_at = now - timedelta(seconds=total - n)
        yield {
            "id": n,
            "user_id": user,
            "title": f"{VERBS[(n // 100) % 10]} {OBJECTS[(n // 1000) % 9]} {n}",
            "description": f"notes on the {OBJECTS[(n // 7) % 9]}" if n % 3 == 0 else "",
            "completed": completed,
            "completed_at": created_at + timedelta(hours=1) if completed else None,
            "priority": PRIORITIES[priority],
            "priority_rank": priority,
            "tags": tags,
            "tags_text": " ".join(tags),
            "due_at": due_at,
            "due_date": due_date,
            "due_sort_at": due_sort_at,
            "reminders": [],
            "recurrence_rule": "FREQ=WEEKLY" if recurring else None,
            "recurrence_mode": "due" if recurring else None,
            "recurrence": {
                "rule": "FREQ=WEEKLY",
                "mode": "due",
                "series_id": f"s{n}",
                "occurrence": 1,
                "anchor": None,
            }
            if recurring
            else None,
            "series_id": f"s{n}" if recurring else None,
            "occurrence": 1 if recurring else None,
            "created_at": created_at,
            "updated_at": created_at + timedelta(minutes=(n * 31) % 1000),
        }


def _load(engine: sa.Engine, total: int, now: datetime) -> float:
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        _copy_postgres(engine, total, now)
    else:
        _insert_sqlite(engine, total, now)
    # A live table is vacuumed by autovacuum; right after a bulk load only an explicit VACUUM
    # sets the visibility map that lets PostgreSQL count from the index alone.
    maintenance = "VACUUM (ANALYZE)" if engine.dialect.name == "postgresql" else "ANALYZE"
    autocommit = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")
    try:
        with autocommit.connect() as connection:
            connection.exec_driver_sql(maintenance)
    finally:
        autocommit.dispose()
    return time.perf_counter() - started


def _insert_sqlite(engine: sa.Engine, total: int, now: datetime) -> None:
    rows = task_rows(total, now)
    with engine.begin() as connection:
        while batch := list(islice(rows, BATCH)):
            connection.execute(sa.insert(orm.tasks), batch)
            connection.execute(
                sa.insert(orm.task_tags),
                [
                    {"task_id": row["id"], "user_id": row["user_id"], "tag": tag}
                    for row in batch
                    for tag in row["tags"]
                ],
            )


def _copy_postgres(engine: sa.Engine, total: int, now: datetime) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            f"COPY tasks ({', '.join(TASK_COLUMNS)}) FROM STDIN WITH (FORMAT csv, "
            f"FORCE_NULL ({', '.join(NULLABLE_COLUMNS)}))",
            stream=_csv_chunks(total, now),
        )
        cursor.execute(
            "INSERT INTO task_tags (task_id, user_id, tag) "
            "SELECT id, user_id, jsonb_array_elements_text(tags) FROM tasks"
        )
        raw.commit()
    finally:
        raw.close()


def _csv_chunks(total: int, now: datetime) -> Iterator[str]:
    """COPY's CSV with every string quoted (an empty description stays a string); Python 3.11's
    csv quotes None as "" too, which FORCE_NULL reads as NULL in the nullable columns."""
    rows = task_rows(total, now)
    while batch := list(islice(rows, BATCH)):
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)
        for row in batch:
            writer.writerow([_copy_value(row[column]) for column in TASK_COLUMNS])
        yield buffer.getvalue()


def _copy_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _measure(
    engine: sa.Engine, selected: list[Query], repeats: int, now: datetime, context: Context
) -> tuple[list[dict[str, object]], str]:
    rows: list[dict[str, object]] = []
    plans: list[str] = []
    goal = GOAL_P95_MS if context.backing == "postgres" else None
    with engine.connect() as connection:
        for query in selected:
            parsed = task_queries.TaskQuery.from_params(query.params, ZONE, now)
            timings, page = [], None
            for _ in range(repeats):
                started = time.perf_counter()
                page = task_queries.list_tasks(connection, USER_ID, parsed, ZONE, now)
                timings.append((time.perf_counter() - started) * 1000)
            assert page is not None
            plan, scans, server_ms = _explain(engine, connection, parsed, now)
            plans.append(f"### {query.label}  {query.params}\n{plan}\n")
            p95 = percentile(timings, 95)
            rows.append(
                {
                    "query": query.label,
                    # Counted up to task_queries.TOTAL_CAP, as the API answers.
                    "matches": page.total if page.total_exact else f"{page.total}+",
                    "p50_ms": round(statistics.median(timings), 2),
                    "p95_ms": round(p95, 2),
                    "db_ms": server_ms,
                    "plan": scans,
                    "goal_p95_ms": goal,
                    "met": None if goal is None else p95 < goal,
                }
            )
    return rows, "\n".join(plans)


def _explain(
    engine: sa.Engine, connection: sa.Connection, parsed: Any, now: datetime
) -> tuple[str, str, float | None]:
    """The plan of every statement one list_tasks call runs (the page, and the capped count
    when more tasks match than the page holds), a short list of their scans, and (PostgreSQL)
    the server's execution time of them all: what is left of p50 is the client, the driver and
    the round trips."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        task_queries.list_tasks(connection, USER_ID, parsed, ZONE, now)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS) "
        if engine.dialect.name == "postgresql"
        else "EXPLAIN QUERY PLAN "
    )
    sections = []
    # Queries only: list_tasks also sets a planner setting for its transaction (SET LOCAL),
    # which the captured run left in force for these EXPLAINs.
    queries_only = [(sql, args) for sql, args in statements if not sql.startswith("SET ")]
    for statement, parameters in queries_only:
        result = connection.exec_driver_sql(prefix + statement, parameters)
        lines = [" | ".join(str(cell) for cell in row) for row in result]
        sections.append(f"{statement}\n-- plan:\n" + "\n".join(lines))
    text = "\n\n".join(sections)
    executions = [float(ms) for ms in EXECUTION_TIME.findall(text)]
    return text, _scans(text), round(sum(executions), 2) if executions else None


EXECUTION_TIME = re.compile(r"Execution Time: ([\d.]+) ms")
SCAN = re.compile(
    r"((?:Parallel )?(?:Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)(?: Backward)?"
    r"(?: using \w+)?(?: on \w+)?|(?:SCAN|SEARCH) \w+(?: USING (?:COVERING )?INDEX \w+)?"
    r"|USE TEMP B-TREE FOR ORDER BY)"
)


def _scans(plans: str) -> str:
    """The scans of the plans, e.g. 'Index Only Scan using ix_tasks_user_due_sort_id'."""
    plan_lines = "\n".join(
        section.split("-- plan:", 1)[-1] for section in plans.split("\n\n") if "-- plan:" in section
    )
    return "; ".join(dict.fromkeys(match.group(1) for match in SCAN.finditer(plan_lines)))


def _database_size(engine: sa.Engine) -> float:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            size = connection.exec_driver_sql("SELECT pg_database_size(current_database())")
        else:
            size = connection.exec_driver_sql(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            )
        return round(int(size.scalar_one()) / 2**20, 1)
