"""A named lock that several processes sharing one database can take without waiting, held across
several transactions and released when its holder stops, even by crashing.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection kept out of
  the pool for as long as the lock is held. That connection sits idle, never inside a
  transaction, so it blocks no reader or writer; PostgreSQL drops the lock when the connection
  closes.
- SQLite: an exclusive `flock` on a file next to the database (`<database>-<name>.lock`). The
  kernel drops it when the file is closed or the process dies. A transaction would not do: on
  SQLite a transaction that holds a lock is the database's single write lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine


@contextlib.contextmanager
def try_exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True holding the lock `name`, or False at once when someone else holds it."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name) as acquired:
            yield acquired
    else:
        with _file_lock(_lock_file(engine, name)) as acquired:
            yield acquired


@contextlib.contextmanager
def _advisory_lock(engine: Engine, name: str) -> Iterator[bool]:
    # Advisory locks are keyed by a 64-bit integer; a stable checksum of the name is plenty for
    # the handful of names one database uses.
    key = zlib.crc32(name.encode())
    with engine.connect() as connection:
        acquired = bool(connection.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar())
        connection.commit()  # idle outside a transaction while the lock is held
        try:
            yield acquired
        finally:
            if acquired:
                connection.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                connection.commit()


def _lock_file(engine: Engine, name: str) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise ValueError("a lock shared between processes needs a SQLite database file")
    return Path(f"{database}-{name}.lock")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    # Each open() is its own open file description, so two holders in one process exclude each
    # other too (flock, unlike fcntl record locks, is not per process).
    with path.open("a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
