"""Fixtures shared by every test folder: databases.

`database_url` runs a test on both databases of the product: a fresh, migrated SQLite file, and a
fresh, migrated PostgreSQL database (a copy of a template migrated once per run) on the cluster
that scripts/postgres.sh starts (TASKFLOW_TEST_POSTGRES_URL). Without that variable the
PostgreSQL half is skipped locally and fails under CI, where skipping would hide a gap.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sender_keys import KEYS as SENDER_KEYS
from sqlalchemy.engine import Engine, make_url
from taskflow.adapters.database import make_engine, migrate

# Every process a test starts holds the sender keys, as `just up` gives them to its processes;
# tests sign what they post straight to a door with tests/infra/sender_keys.py.
os.environ.update(SENDER_KEYS)

POSTGRES_URL_VARIABLE = "TASKFLOW_TEST_POSTGRES_URL"
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class PostgresDatabases:
    """Creates uniquely named databases on the test cluster and drops them afterwards."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        self.admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []
        self.template: str | None = None

    def url_of(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, *, migrated: bool) -> str:
        """A new empty database, or a copy of the migrated template (much faster than
        migrating each time)."""
        name = f"taskflow_test_{uuid.uuid4().hex[:12]}"
        statement = f'CREATE DATABASE "{name}"'
        if migrated:
            statement += f' TEMPLATE "{self._migrated_template()}"'
        with self.admin.connect() as connection:
            connection.exec_driver_sql(statement)
        self.created.append(name)
        return self.url_of(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop(self.url_of(name))
        self.admin.dispose()

    def _migrated_template(self) -> str:
        if self.template is None:
            url = self.create(migrated=False)
            migrate(url)
            self.template = make_url(url).database
        return self.template


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    admin_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not admin_url:
        reason = f"{POSTGRES_URL_VARIABLE} is not set: run `eval $(scripts/postgres.sh env)`"
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL tests cannot be skipped in CI: {reason}")
        pytest.skip(reason)
    databases = PostgresDatabases(admin_url)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "taskflow.db"
    migrate(f"sqlite:///{path}")
    return path


def _fresh_database(
    request: pytest.FixtureRequest, directory: Path, sqlite_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = directory / "taskflow.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create(migrated=True)
    yield url
    databases.drop(url)


@pytest.fixture(params=DATABASES)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A fresh, migrated database of each kind, for one test."""
    yield from _fresh_database(request, tmp_path, sqlite_template)


@pytest.fixture(scope="module", params=DATABASES)
def module_database_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[str]:
    """A fresh, migrated database of each kind shared by a module's tests, for tests that only
    read data set up once."""
    yield from _fresh_database(request, tmp_path_factory.mktemp("module-db"), sqlite_template)


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of each kind with no tables yet (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'taskflow.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create(migrated=False)
    yield url
    databases.drop(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on `database_url`: what the units of work take (`engine.connect()` to read)."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()
