"""The API against a real create-task process over real HTTP, on both databases.

One stack per test module and database: a migrated database, create-task running under the
functions-framework CLI, a capturing broker ingress, and the Flask app (driven by its test
client). A module that needs no writes overrides `create_task_url`. Tests stay independent by
signing up their own users: the API's own isolation rules are what keep them apart.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Account, function_fixtures, sign_up
from flask.testing import FlaskClient
from taskflow.config import Settings, load_settings
from taskflow.entrypoints.api import create_app

JWT_SECRET = "api-test-secret-of-at-least-32-bytes"
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=DATABASES)
def api_database_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[str]:
    """Like tests/conftest.py's `database_url`, but shared by one module's tests (starting
    create-task per test would cost seconds each)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("api-db") / "taskflow.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    databases = request.getfixturevalue("postgres_databases")
    url = databases.create(migrated=True)
    yield url
    databases.drop(url)


@pytest.fixture(scope="module")
def broker() -> Iterator[Any]:
    capturing = function_fixtures.CapturingBroker()
    yield capturing
    capturing.close()


@pytest.fixture(scope="module")
def create_task_url(
    api_database_url: str, broker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """create-task under the functions-framework CLI, as deployed, on the module's database."""
    log_dir = tmp_path_factory.mktemp("create-task")
    processes = function_fixtures.FunctionProcesses(log_dir)
    env = {
        "DATABASE_URL": api_database_url,
        "BROKER_URL": broker.url,
        "JWT_SECRET": JWT_SECRET,
        "TASKFLOW_DATA_DIR": str(log_dir),
    }
    try:
        yield processes("create_task", env)
    finally:
        processes.stop_all()


@pytest.fixture(scope="module")
def spawn_recurrence_url(broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """spawn-recurrence as a real process, for tests that complete a repeating task: the
    capturing broker delivers nothing, so such a test hands a completion on itself
    (api_helpers.hand_on)."""
    log_dir = tmp_path_factory.mktemp("spawn-recurrence")
    processes = function_fixtures.FunctionProcesses(log_dir)
    env = {"BROKER_URL": broker.url, "JWT_SECRET": JWT_SECRET, "TASKFLOW_DATA_DIR": str(log_dir)}
    try:
        yield processes("spawn_recurrence", env)
    finally:
        processes.stop_all()


@pytest.fixture(scope="module")
def settings(
    api_database_url: str,
    create_task_url: str,
    broker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return dataclasses.replace(
        load_settings(),
        data_dir=tmp_path_factory.mktemp("api-data"),
        database_url=api_database_url,
        create_task_url=create_task_url,
        broker_url=broker.url,
        jwt_secret=JWT_SECRET,
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[FlaskClient]:
    app = create_app(settings)
    yield app.test_client()
    app.extensions["taskflow"].engine.dispose()


@pytest.fixture
def alice(client: FlaskClient) -> Account:
    return sign_up(client, timezone="Europe/Berlin")


@pytest.fixture
def bob(client: FlaskClient) -> Account:
    return sign_up(client)
