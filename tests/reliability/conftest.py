"""Fixtures of the reliability harness: a database of each kind for a whole stack, and the test
Kafka for the stacks on the Kafka backing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from infra_services import script_service
from stack import Stack, running_stack


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "taskflow.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_url(postgres_databases) -> Iterator[str]:  # type: ignore[no-untyped-def]
    url = postgres_databases.create(migrated=True)
    yield url
    # The fault test restarts the server: the admin pool's connections died with it.
    postgres_databases.admin.dispose()
    postgres_databases.drop(url)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The Kafka of scripts/kafka.sh, started here unless it runs (then stopped afterwards)."""
    with script_service("kafka.sh") as exports:
        yield exports["KAFKA_BOOTSTRAP"]


@pytest.fixture
def kafka_bootstrap_of_backing(request: pytest.FixtureRequest, backing: str) -> str | None:
    """Kafka's address for a test on the Kafka backing; no Kafka is started for the others."""
    return request.getfixturevalue("kafka_bootstrap") if backing == "kafka" else None


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Stack]:
    """The whole product on SQLite, shared by a module's tests (each signs up its own users)."""
    workdir = tmp_path_factory.mktemp("product")
    path = workdir / "taskflow.db"
    shutil.copyfile(sqlite_template, path)
    with running_stack(workdir, f"sqlite:///{path}") as stack:
        yield stack
