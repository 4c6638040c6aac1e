"""`just up --dapr` (python -m taskflow_dev.local --dapr) starts the product with every function and
the web app behind its own daprd: a chat turn creates a task through service invocation and
keeps the conversation in Dapr's state store; Ctrl-C stops every process it started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from dapr_stack import REPO_ROOT, free_port
from taskflow.config import Ports
from taskflow_dev.local.dapr import PORT_BASE_ENV, PORT_SPAN, WEB_APP_ID
from taskflow_dev.local.launch import free_port_block, wait_until

pytestmark = pytest.mark.dapr

START_TIMEOUT_SECONDS = 180.0
READY_LINE = "Press Ctrl-C to stop."


class Runner:
    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taskflow_dev.local", "--dapr"],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)


def daprd_processes_of(data_dir: Path, app_ports: set[int]) -> list[int]:
    """daprd processes serving one of `app_ports` (this runner's apps)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            argv = cmdline.read_bytes().split(b"\0")
            if argv[0].endswith(b"/daprd") and b"--app-port" in argv:
                port = int(argv[argv.index(b"--app-port") + 1])
                if port in app_ports:
                    found.append(int(cmdline.parent.name))
    return found


@pytest.fixture
def runner(
    tmp_path: Path,
    kafka_bootstrap: str,
    dapr_scheduler: dict[str, str],
    product_database_url: str,
) -> Iterator[tuple[Runner, Ports]]:
    ports = Ports(**{name: free_port() for name in asdict(Ports())})
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("BROKER_URL", "CREATE_TASK_URL", "BROADCAST_URL", "TASKFLOW_SECRETS_FILE")
    }
    env |= {f"TASKFLOW_PORT_{name.upper()}": str(port) for name, port in asdict(ports).items()}
    env |= {
        "TASKFLOW_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": product_database_url,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TASKFLOW_KAFKA_GROUP_PREFIX": f"taskflow-up-dapr-{ports.web}-",
        # Every sidecar port free and kept from the other fixtures' free_port() (a sidecar's
        # gRPC port was once a port another fixture held: "bind: address already in use").
        PORT_BASE_ENV: str(free_port_block(PORT_SPAN) - 1),
        "PYTHONUNBUFFERED": "1",
    }
    running = Runner(env)
    try:
        yield running, ports
    finally:
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGINT)
            try:
                running.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                running.process.kill()
                running.process.wait()


def test_just_up_dapr_runs_the_product_behind_sidecars(
    runner: tuple[Runner, Ports], product_database_url: str
) -> None:
    process, ports = runner
    wait_until(
        lambda: READY_LINE in process.output() or process.process.poll() is not None,
        what="just up --dapr to start",
        timeout=START_TIMEOUT_SECONDS,
    )
    assert READY_LINE in process.output(), process.output()[-4000:]
    # One sidecar per app: the router, the MCP server and the metrics ports have none.
    app_ports = {
        getattr(ports, name)
        for name in asdict(ports)
        if name not in ("router", "mcp") and not name.endswith("_metrics")
    }
    assert len(daprd_processes_of(Path(), app_ports)) == len(app_ports)
    web = f"http://127.0.0.1:{ports.web}"
    signup = requests.post(
        f"{web}/api/auth/signup",
        json={"email": f"up-{ports.web}@example.com", "password": "a-good-long-password"},
        timeout=30,
    )
    assert signup.status_code == 201, signup.text
    user_id, token = signup.json()["user_id"], signup.json()["token"]

    answer = requests.post(
        f"{web}/api/{user_id}/chat",
        json={"message": "Add a task to buy milk"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )

    assert answer.status_code == 200, answer.text
    conversation_id = answer.json()["conversation_id"]
    engine = sa.create_engine(product_database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                sa.text("SELECT count(*) FROM dapr_state WHERE key = :key"),
                {"key": f"{WEB_APP_ID}||conversation:{user_id}:{conversation_id}"},
            ).scalar_one()
            tasks = connection.execute(
                sa.text("SELECT title FROM tasks WHERE user_id = :user"), {"user": user_id}
            ).scalars()
            assert list(tasks) == ["buy milk"]
    finally:
        engine.dispose()
    assert stored == 1

    process.process.send_signal(signal.SIGINT)
    assert process.process.wait(timeout=60) == 0
    assert daprd_processes_of(Path(), app_ports) == []
