"""Session fixtures for the Dapr integration tests: the infrastructure of tests/infra (Kafka,
PostgreSQL, the Dapr scheduler, started through their scripts) and TaskFlow on top of it, every
process behind its own daprd (tests/dapr/dapr_stack.py), events carried by the router over Kafka.

Secrets reach the apps only through Dapr: the secrets file is in daprd's environment, never in an
app's, and no app gets DATABASE_URL or JWT_SECRET. An app that fell back to its defaults would
use a SQLite file in the stack's data folder and a different JWT secret, which the tests notice.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from dapr_stack import Stack
from sqlalchemy.engine import make_url

INFRA_TESTS = Path(__file__).resolve().parents[1] / "infra"


def _infra_fixtures() -> object:
    """tests/infra/conftest.py, loaded once more under its own name so its session fixtures
    (Kafka, PostgreSQL, the scheduler) serve these tests too instead of being copied."""
    spec = importlib.util.spec_from_file_location("infra_conftest", INFRA_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_infra = _infra_fixtures()
kafka_bootstrap = _infra.kafka_bootstrap  # type: ignore[attr-defined]
dapr_scheduler = _infra.dapr_scheduler  # type: ignore[attr-defined]
postgres_admin_url = _infra.postgres_admin_url  # type: ignore[attr-defined]
DatabaseFactory = _infra.DatabaseFactory  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def product_database_url(postgres_admin_url: str, postgres_databases: DatabaseFactory) -> str:
    """TaskFlow's database, migrated; Dapr's state store keeps its own tables in it too."""
    return postgres_databases.create(migrated=True)


@pytest.fixture(scope="session")
def product_secrets(product_database_url: str) -> dict[str, str]:
    libpq_url = make_url(product_database_url).set(drivername="postgresql")
    return {
        "DATABASE_URL": product_database_url,
        "JWT_SECRET": secrets.token_urlsafe(32),
        "POSTGRES_CONNECTION_STRING": libpq_url.render_as_string(hide_password=False),
    }


@pytest.fixture(scope="session")
def stack_processes(
    kafka_bootstrap: str,
    dapr_scheduler: dict[str, str],
    product_secrets: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("dapr-stack")
    secrets_file = root / "secrets.json"
    secrets_file.write_text(json.dumps(product_secrets))
    secrets_file.chmod(0o600)
    sidecar_env = {"KAFKA_BOOTSTRAP": kafka_bootstrap, "TASKFLOW_SECRETS_FILE": str(secrets_file)}
    running = Stack(dict(os.environ), sidecar_env, root)
    _STACKS.append(running)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        for app in running.apps:
            if app.proxy is not None:
                app.proxy.close()


@pytest.fixture
def stack(stack_processes: Stack) -> Stack:
    """The stack, started once for all the tests here (again if a test from elsewhere ran in
    between and pytest_runtest_teardown stopped it)."""
    if not stack_processes.running:
        stack_processes.start()
    return stack_processes


# The stacks of this session, stopped as soon as the tests of this folder are done rather than
# at the end of the whole suite (a dozen processes would otherwise idle through every other test).
_STACKS: list[Stack] = []
DAPR_TESTS = Path(__file__).resolve().parent


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if nextitem is None or DAPR_TESTS not in Path(nextitem.path).resolve().parents:
        for running in _STACKS:
            running.stop()


@pytest.fixture
def signed_up(stack: Stack) -> tuple[str, dict[str, str]]:
    """A fresh user: (user id, authorization headers)."""
    answer = requests.post(
        f"{stack.api_url}/api/auth/signup",
        json={"email": f"{secrets.token_hex(6)}@example.com", "password": secrets.token_hex(12)},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return body["user_id"], {"Authorization": f"Bearer {body['token']}"}
