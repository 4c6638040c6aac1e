"""Where a benchmark's data and events live: `--backing embedded|postgres|kafka`.

- embedded: SQLite in a temporary data folder and the local router (the `just up` defaults);
- postgres: a fresh database, dropped after the benchmark, on the benchmarks' own cluster
  (see `postgres_cluster`), and the local router;
- kafka: the Kafka-backed router comes with issue 4; until then it is refused by name rather
  than quietly measured on something else.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.machine import REPO_ROOT

BACKINGS = ("embedded", "postgres", "kafka")
AVAILABLE = ("embedded", "postgres")
POSTGRES_SCRIPT = REPO_ROOT / "scripts" / "postgres.sh"


class BackingUnavailable(RuntimeError):
    pass


def check_available(backing: str) -> None:
    if backing == "kafka":
        raise BackingUnavailable(
            "--backing kafka is not available yet: issue 4 (the Kafka-backed router, "
            "scripts/kafka.sh) has to land first; use --backing embedded or postgres"
        )
    if backing not in AVAILABLE:
        raise BackingUnavailable(f"--backing {backing!r}: use one of {', '.join(BACKINGS)}")


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """The admin URL of the benchmarks' own PostgreSQL cluster (scripts/postgres.sh with
    TASKFLOW_POSTGRES_CLUSTER=bench-postgres): not the test cluster, which the fault tests stop
    and start, and with PostgreSQL's default durability (fsync on), unlike the test cluster.
    It is stopped afterwards when this started it."""
    env = {
        **os.environ,
        "TASKFLOW_POSTGRES_CLUSTER": "bench-postgres",
        "TASKFLOW_POSTGRES_DURABLE": "1",
        "TASKFLOW_TEST_POSTGRES_PORT": os.environ.get("TASKFLOW_BENCH_POSTGRES_PORT", "55433"),
    }

    def script(command: str, **options: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [POSTGRES_SCRIPT, command], env=env, capture_output=True, text=True, **options
        )

    started = script("status", check=False).returncode != 0
    if started:
        script("start", check=True)
    try:
        yield script("env", check=True).stdout.strip().split("=", 1)[1]
    finally:
        if started:
            script("stop", check=False)


@contextlib.contextmanager
def database(backing: str, workdir: Path, admin_url: str | None) -> Iterator[str]:
    """A database URL of the backing's kind that exists only for one benchmark (not migrated:
    the product migrates it at start-up, as `just up` does)."""
    if backing == "embedded":
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{workdir / 'data' / 'taskflow.db'}"
        return
    assert admin_url is not None, "the postgres backing needs the cluster's admin URL"
    with postgres_database(admin_url) as url:
        yield url


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new, separate database on the cluster (never the test database), dropped afterwards."""
    name = f"taskflow_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
