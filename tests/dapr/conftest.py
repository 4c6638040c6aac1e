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
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from dapr_stack import DaprApp, Process, SidecarCallRecorder, free_port, listening
from sqlalchemy.engine import make_url
from taskflow.config import FUNCTIONS, Ports
from taskflow.local.launch import wait_until
from taskflow.local.processes import function_command

INFRA_TESTS = Path(__file__).resolve().parents[1] / "infra"
# The commands of deploy/Dockerfile live with the process helpers of tests/functions.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from function_processes import web_command  # noqa: E402


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

WEB_APP_ID = "api"  # the Knative Service and Dapr app id of the web app in a cluster
# Never handed to an app: only daprd's secret store knows them.
SECRET_NAMES = ("DATABASE_URL", "JWT_SECRET", "OPENAI_API_KEY", "TASKFLOW_SECRETS_FILE")


class Stack:
    """The router and one DaprApp per function plus the web app, on fixed free ports."""

    def __init__(self, base_env: dict[str, str], sidecar_env: dict[str, str], root: Path) -> None:
        self.data_dir = root / "data"
        self.log_dir = root / "logs"
        self.log_dir.mkdir(parents=True)
        self.router_port = free_port()
        self.functions = {
            name: DaprApp(
                name.replace("_", "-"),
                lambda port, name=name: function_command(name, port),
                {},
                sidecar_env,
                self.log_dir,
            )
            for name in FUNCTIONS
        }
        self.web = DaprApp(WEB_APP_ID, web_command, {}, sidecar_env, self.log_dir)
        send_reminder = self.functions["send_reminder"]
        send_reminder.proxy = SidecarCallRecorder(send_reminder.app_port)
        ports = Ports(
            web=self.web.app_port,
            router=self.router_port,
            mcp=free_port(),
            **{name: app.app_port for name, app in self.functions.items()},
        )
        self.env = {
            **{key: value for key, value in base_env.items() if key not in SECRET_NAMES},
            "TASKFLOW_DATA_DIR": str(self.data_dir),
            "BROKER_URL": f"http://127.0.0.1:{self.router_port}/taskflow",
            # Service invocation: the web app reaches create-task through its own sidecar.
            "CREATE_TASK_URL": f"{self.web.sidecar_url}/v1.0/invoke/create-task/method",
            "BROADCAST_URL": self.functions["broadcast_update"].app_url,
            # The router over Kafka (the Knative Kafka broker's stand-in), with consumer groups
            # of its own: a new group starts at the end of the topics.
            "TASKFLOW_ROUTER_BACKING": "kafka",
            "KAFKA_BOOTSTRAP": sidecar_env["KAFKA_BOOTSTRAP"],
            "TASKFLOW_KAFKA_GROUP_PREFIX": f"taskflow-dapr-tests-{secrets.token_hex(4)}-",
            **{f"TASKFLOW_PORT_{name.upper()}": str(port) for name, port in vars(ports).items()},
        }
        for app in self.apps:
            app.app_env = self.env
        self.router: Process | None = None
        self.running = False

    @property
    def apps(self) -> list[DaprApp]:
        return [*self.functions.values(), self.web]

    def app(self, app_id: str) -> DaprApp:
        (found,) = [app for app in self.apps if app.app_id == app_id]
        return found

    @property
    def api_url(self) -> str:
        return self.web.app_url

    def start(self) -> None:
        router = [
            sys.executable,
            "-m",
            "taskflow.router",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.router_port),
        ]
        self.router = Process(router, self.env, self.log_dir / "router.log")
        for app in self.apps:
            app.start_app(wait=False)
        for app in self.apps:
            app.start_sidecar()
        for app in self.apps:
            app.wait_until_app_serves()
        wait_until(lambda: listening(self.router_port), what="the router", timeout=30)
        self.running = True

    def stop(self) -> None:
        self.running = False
        for app in self.apps:
            app.stop()
        if self.router is not None:
            self.router.stop()
            self.router = None


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
