"""Engines and migrations.

`make_engine` gives every process the same connection behaviour; `migrate` brings a database to
the newest Alembic revision and may run in several processes at once (each function migrates at
start-up). Command line: `python -m taskflow.adapters.database upgrade` (uses DATABASE_URL).
"""

from __future__ import annotations

import argparse
import ast
import functools
import re
import sqlite3
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
# `revision = "0002"`, `down_revision: str | None = "0001"` in each migrations/versions/ file.
_REVISION_FIELD = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.+)$", re.MULTILINE)
SQLITE_BUSY_TIMEOUT_MS = 30_000
_WAL_RETRY_SECONDS = 0.05
# Full-text search objects the migrations create by hand, per dialect (specs/search.md); orm.py
# does not declare them, so comparing the schema with orm.metadata must leave them out.
SEARCH_OBJECTS = ("tasks_fts", "search_vector", "ix_tasks_search_vector")


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for `url`. SQLite gets WAL, foreign keys, a busy timeout and its folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True, **options)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **options)
    sa.event.listen(engine, "connect", _configure_sqlite_connection)
    sa.event.listen(engine, "begin", _begin_sqlite_immediately)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy: the sqlite3 module's own implicit BEGIN would
    # otherwise break savepoints and defer locking (see _begin_sqlite_immediately).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # First, so that switching to WAL also waits for a process that holds the file.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """WAL is a property of the file: once one process switched it, the others find it so and
    skip the switch. The switch itself writes the file header, and SQLite answers "database is
    locked" AT ONCE, without calling the busy handler, when another connection holds the write
    lock (waiting could deadlock two upgrading readers). Processes starting together on a fresh
    file (`just up`, every function migrating) hit exactly that, so retry until the busy
    timeout instead (issue 12, item 7)."""
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(_WAL_RETRY_SECONDS)


def _begin_sqlite_immediately(connection: sa.Connection) -> None:
    # Several processes write one file. A deferred transaction that reads and then writes can fail
    # with SQLITE_BUSY at once when another writer got in between (the busy timeout does not help
    # then); taking the write lock at BEGIN makes writers queue instead. Readers in WAL mode are
    # never blocked by it.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def declared_in_metadata(
    schema_object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's include_object hook: skip the hand-made search objects."""
    return not (name or "").startswith(SEARCH_OBJECTS)


def alembic_config(url: str | None = None, connection: sa.Connection | None = None) -> Config:
    # Alembic is imported here, not at module level: every function imports this module, and
    # alembic costs ~0.1 s of each one's start (specs/benchmarks.md, cold_start).
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.attributes["database_url"] = url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head_revisions() -> frozenset[str]:
    """The revisions no migration builds on (what `alembic heads` answers; a test compares the
    two), read from the files' `revision` and `down_revision` lines without Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        fields = dict(_REVISION_FIELD.findall(path.read_text()))
        revisions.add(ast.literal_eval(fields["revision"]))
        down = ast.literal_eval(fields.get("down_revision", "None"))
        parents |= {down} if isinstance(down, str) else set(down or ())
    return frozenset(revisions - parents)


def _at_head(engine: Engine) -> bool:
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return False
        rows = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
        return set(rows.scalars()) == head_revisions()


def migrate(url: str) -> None:
    """Upgrade the database at `url` to the newest revision. Safe to call from several processes
    at once: PostgreSQL serialises them with an advisory lock, SQLite with BEGIN IMMEDIATE (see
    migrations/env.py).

    A database already at the newest revision, what every function finds on its first event but
    the very first one's, is left as it is without loading Alembic: its import (with Mako, and
    Pygments where installed) was 12 MiB and about 0.15 s of CPU of each function's first event
    (specs/benchmarks.md, cold start). Anything else (empty, older, unknown revision) goes to
    Alembic as before."""
    engine = make_engine(url)
    try:
        if _at_head(engine):
            return
        from alembic import command

        with engine.connect() as connection:
            command.upgrade(alembic_config(url, connection), "head")
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taskflow.adapters.database")
    parser.add_argument("action", choices=["upgrade", "current"])
    parser.add_argument("--url", help="database URL (default: DATABASE_URL or the local SQLite)")
    arguments = parser.parse_args(argv)
    if arguments.url:
        url = arguments.url
    else:
        from taskflow.config import load_settings

        url = load_settings().database_url
    if arguments.action == "upgrade":
        migrate(url)
    revision = current_revision(url)
    # The URL may hold a password: print only where it points.
    print(f"{make_url(url).render_as_string(hide_password=True)} at revision {revision}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
