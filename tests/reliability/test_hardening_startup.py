"""Issue 12, items 2 and 7: how the product starts. A process must not start with a signing
secret anyone can read in the code, and SQLite processes starting together must all start."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import sqlalchemy as sa
from taskflow.adapters.database import make_engine


def test_sqlite_connection_waits_for_a_writer_while_switching_to_wal(tmp_path: Path) -> None:
    """Item 7: `PRAGMA journal_mode=WAL` on a fresh file while another process holds the write
    lock answered "database is locked" at once (SQLite skips the busy handler there), so a
    function starting beside the others failed to start on a loaded machine."""
    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    # The other process finishes its write a moment later, as a migrating function does.
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar_one()
            rows = connection.execute(sa.text("SELECT count(*) FROM t")).scalar_one()
    finally:
        release.join()
        engine.dispose()
        holder.close()
    assert mode == "wal"
    assert rows == 1
