"""Session fixtures for the infra tests: Kafka, PostgreSQL and the Dapr scheduler are started
through their scripts (and stopped afterwards unless they were already running)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from infra_services import (
    EVENTS_ROUTE,
    PUBSUB,
    SMOKE_APP_ID,
    RecordingApp,
    Sidecar,
    daprd,
    script_service,
)
from sqlalchemy.engine import make_url
from taskflow.catalogue import TOPIC_TASK_EVENTS


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with script_service("kafka.sh") as exports:
        yield exports["KAFKA_BOOTSTRAP"]


@pytest.fixture(scope="session")
def dapr_scheduler() -> Iterator[dict[str, str]]:
    with script_service("dapr.sh", "start-scheduler") as exports:
        yield exports


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """The test cluster's URL; also exported so the shared `postgres_databases` fixture finds it."""
    with script_service("postgres.sh") as exports:
        previous = {name: os.environ.get(name) for name in exports}
        os.environ.update(exports)
        try:
            (url,) = exports.values()
            yield url
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


class DatabaseFactory(Protocol):
    """What the shared `postgres_databases` fixture offers (tests/conftest.py)."""

    def create(self, *, migrated: bool) -> str: ...


@pytest.fixture(scope="session")
def state_database_url(postgres_admin_url: str, postgres_databases: DatabaseFactory) -> str:
    """A fresh database for Dapr's state store, as a SQLAlchemy URL."""
    return postgres_databases.create(migrated=False)


@pytest.fixture(scope="session")
def sidecar_secrets(state_database_url: str) -> dict[str, str]:
    libpq_url = make_url(state_database_url).set(drivername="postgresql")
    return {
        "JWT_SECRET": secrets.token_urlsafe(24),
        "POSTGRES_CONNECTION_STRING": libpq_url.render_as_string(hide_password=False),
    }


@pytest.fixture(scope="session")
def secrets_file(tmp_path_factory: pytest.TempPathFactory, sidecar_secrets: dict[str, str]) -> Path:
    path = tmp_path_factory.mktemp("secrets") / "secrets.json"
    path.write_text(json.dumps(sidecar_secrets))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def recording_app() -> RecordingApp:
    return RecordingApp(
        subscriptions=[{"pubsubname": PUBSUB, "topic": TOPIC_TASK_EVENTS, "route": EVENTS_ROUTE}]
    )


@pytest.fixture(scope="session")
def sidecar_env(kafka_bootstrap: str, secrets_file: Path) -> dict[str, str]:
    """What dapr/components/local reads from the environment."""
    return {"KAFKA_BOOTSTRAP": kafka_bootstrap, "TASKFLOW_SECRETS_FILE": str(secrets_file)}


@pytest.fixture(scope="session")
def sidecar(
    sidecar_env: dict[str, str],
    dapr_scheduler: dict[str, str],
    recording_app: RecordingApp,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Sidecar]:
    log_file = tmp_path_factory.mktemp("daprd") / f"{SMOKE_APP_ID}.log"
    with (
        recording_app.serving() as app_port,
        daprd(SMOKE_APP_ID, app_port, sidecar_env, log_file) as car,
    ):
        yield car
