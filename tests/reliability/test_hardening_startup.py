"""Issue 12, items 2 and 7: how the product starts. A process must not start with a signing
secret anyone can read in the code, and SQLite processes starting together must all start."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from taskflow.adapters import tokens
from taskflow.adapters.database import make_engine
from taskflow.config import REPO_ROOT, InsecureConfiguration, load_settings
from taskflow_dev.local.__main__ import JWT_SECRET_FILE, child_env, with_local_jwt_secret
from taskflow_dev.local.launch import free_port
from taskflow_dev.local.processes import function_command

START_SECONDS = 60


def _without_secrets(**extra: str) -> dict[str, str]:
    """The environment of a start with no JWT_SECRET anywhere it could come from."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("JWT_SECRET", "TASKFLOW_SECRETS_FILE", "DAPR_HTTP_PORT")
    }
    return env | extra


def _start(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a product process that must refuse to start: it exits by itself, so the timeout only
    bounds a process that wrongly started serving."""
    try:
        return subprocess.run(
            argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=START_SECONDS
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{argv[0]} started without a usable JWT_SECRET")


@pytest.mark.parametrize("secret", ["", "s" * 31])
def test_the_web_app_refuses_to_start_without_a_strong_secret(tmp_path: Path, secret: str) -> None:
    """Item 2: an empty JWT_SECRET silently became a default published in the code, so anyone
    could sign a token for any user."""
    database = f"sqlite:///{tmp_path / 'taskflow.db'}"
    port = str(free_port())
    web = [
        str(Path(sys.executable).parent / "flask"),
        "--app",
        "taskflow.entrypoints.api:create_app",
        "run",
        "--port",
        port,
        "--no-reload",
    ]
    env = _without_secrets(DATABASE_URL=database, TASKFLOW_DATA_DIR=str(tmp_path))
    if secret:
        env["JWT_SECRET"] = secret
    answer = _start(web, env)
    assert answer.returncode != 0
    assert "JWT_SECRET" in answer.stderr
    assert "refusing to start" in answer.stderr


def test_live_sync_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    """broadcast-update checks Socket.IO tokens with the same secret."""
    env = _without_secrets(TASKFLOW_DATA_DIR=str(tmp_path))
    answer = _start(function_command("broadcast_update", free_port()), env)
    assert answer.returncode != 0
    assert "JWT_SECRET is not set: refusing to start" in answer.stderr


def test_just_up_makes_a_random_secret_once_and_keeps_it(tmp_path: Path) -> None:
    """The local runner needs no setup: its first run writes a random secret, only its owner
    may read it, and later runs (and every child) use the same one, so tokens survive a
    restart."""
    settings = replace(load_settings(), data_dir=tmp_path / "data", jwt_secret="")
    first = with_local_jwt_secret(settings)
    again = with_local_jwt_secret(settings)
    other_folder = with_local_jwt_secret(replace(settings, data_dir=tmp_path / "other"))

    secret_file = tmp_path / "data" / JWT_SECRET_FILE
    assert first.jwt_secret == again.jwt_secret == secret_file.read_text().strip()
    assert len(first.jwt_secret.encode()) >= 32
    assert other_folder.jwt_secret != first.jwt_secret
    assert secret_file.stat().st_mode & 0o077 == 0
    assert child_env(first, first.ports, {})["JWT_SECRET"] == first.jwt_secret
    # A token the old default signed is not accepted under the secret made here.
    forged = tokens.issue(
        "anyone", secret="taskflow-local-development-secret", issuer="taskflow", ttl_seconds=60
    )
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(forged, secret=first.jwt_secret)


def test_just_up_refuses_a_short_secret_it_was_given(tmp_path: Path) -> None:
    settings = replace(load_settings(), data_dir=tmp_path, jwt_secret="too-short")
    with pytest.raises(InsecureConfiguration, match="shorter than 32 bytes"):
        with_local_jwt_secret(settings)
    assert not (tmp_path / JWT_SECRET_FILE).exists()


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
