"""Fixtures of the observability tests that run real services: functions under the
functions-framework CLI, the API under gunicorn as its image runs it, a broker ingress stand-in.

The fixtures and helpers of tests/functions are loaded from there (test folders are not
packages): `function_fixtures` (start_function, broker, function_env), `function_processes`,
`function_events`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from metrics_ports import metrics_env, serves_metrics_at
from taskflow_dev.local.launch import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from function_fixtures import broker, function_env, start_function, stateless_env
from function_processes import REPO_ROOT, START_TIMEOUT_SECONDS, web_command
from service_logs import API_LOGGING, StartApi

__all__ = ["broker", "function_env", "start_function", "stateless_env"]


@pytest.fixture
def start_api(tmp_path: Path) -> Iterator[StartApi]:
    """The API under gunicorn with the command of its image (deploy/Dockerfile, target api);
    its output goes to tmp_path/api.log."""
    running: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> str:
        port = free_port()
        metrics, metrics_at = metrics_env()
        with (tmp_path / "api.log").open("wb") as log:
            process = subprocess.Popen(
                web_command(port, *API_LOGGING),
                env={**os.environ, "PYTHONUNBUFFERED": "1", **metrics, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        running.append(process)
        base_url = serves_metrics_at(f"http://127.0.0.1:{port}", metrics_at)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _healthy(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start:\n{(tmp_path / 'api.log').read_text()}")
            time.sleep(0.1)
        return base_url

    try:
        yield start
    finally:
        for process in running:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _healthy(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False
