"""Where a benchmark's data and events live: `--backing embedded|kafka|postgres`.

- embedded: SQLite in a temporary data folder and the local router (the `just up` defaults);
- kafka: a fresh PostgreSQL database, dropped after the benchmark, on the benchmarks' own cluster
  (see `postgres_cluster`), and the router's event log on the benchmarks' own Kafka (see
  `kafka_broker`) with consumer groups of the benchmark's own (`just up --kafka` on PostgreSQL);
- postgres: the same fresh PostgreSQL database and the local router: it tells the database's
  share of the kafka figures from the event log's.
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

BACKINGS = ("embedded", "kafka", "postgres")
# The pair: the embedded defaults, and PostgreSQL + Kafka.
DEFAULT = ("embedded", "kafka")
ON_POSTGRES = ("kafka", "postgres")
POSTGRES_SCRIPT = REPO_ROOT / "scripts" / "postgres.sh"
KAFKA_SCRIPT = REPO_ROOT / "scripts" / "kafka.sh"


class BackingUnavailable(RuntimeError):
    pass


def check_available(backing: str) -> None:
    if backing not in BACKINGS:
        raise BackingUnavailable(f"--backing {backing!r}: use one of {', '.join(BACKINGS)}")


def router(backing: str, kafka_bootstrap: str | None) -> tuple[dict[str, str], list[str]]:
    """The settings and arguments of `python -m taskflow_dev.local` for the backing's router. On
    Kafka each benchmark has consumer groups of its own: a new group starts at the end of the
    topics, so no benchmark sees the events of an earlier one."""
    if backing != "kafka":
        return {}, []
    assert kafka_bootstrap is not None, "the kafka backing needs the broker's address"
    groups = f"taskflow-bench-{uuid.uuid4().hex[:10]}-"
    return {"KAFKA_BOOTSTRAP": kafka_bootstrap, "TASKFLOW_KAFKA_GROUP_PREFIX": groups}, ["--kafka"]


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
        "TASKFLOW_TEST_POSTGRES_PORT": os.environ.get("TASKFLOW_BENCH_POSTGRES_PORT", "25433"),
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
def kafka_broker() -> Iterator[str]:
    """The bootstrap address of the benchmarks' own Kafka (scripts/kafka.sh with
    TASKFLOW_KAFKA_INSTANCE=bench-kafka, on ports of its own): not the test broker, which the
    fault tests stop and start. Its ports sit below the kernel's ephemeral range, where the free
    ports that tests and benchmarks bind (port 0) never land. It is stopped afterwards when this
    started it."""
    env = {
        **os.environ,
        "TASKFLOW_KAFKA_INSTANCE": "bench-kafka",
        "TASKFLOW_KAFKA_PORT": os.environ.get("TASKFLOW_BENCH_KAFKA_PORT", "29192"),
        "TASKFLOW_KAFKA_CONTROLLER_PORT": os.environ.get(
            "TASKFLOW_BENCH_KAFKA_CONTROLLER_PORT", "29193"
        ),
    }

    def script(command: str, **options: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KAFKA_SCRIPT, command], env=env, capture_output=True, text=True, **options
        )

    started = script("status", check=False).returncode != 0
    # `start` on a running broker only creates any missing topic.
    starting = script("start", check=False)
    if starting.returncode != 0:
        raise BackingUnavailable(f"scripts/kafka.sh start failed:\n{starting.stderr[-2000:]}")
    try:
        yield script("env", check=True).stdout.strip().removeprefix("export KAFKA_BOOTSTRAP=")
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
    assert admin_url is not None, f"the {backing} backing needs the cluster's admin URL"
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
