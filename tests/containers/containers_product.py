"""One `just up --containers` for the whole session of tests/containers (each start costs about
45 s and the machines are small): the fixture, and podman as these tests call it. Its chat talks to
the scripted OpenAI-compatible server of the chat tests, run here on the host: the containers
reach it through their network's gateway, set through the chat's own settings (OPENAI_*)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from taskflow.config import REPO_ROOT
from taskflow_dev.local.containers import HOST_FROM_CONTAINERS
from taskflow_dev.local.launch import RATE_LIMITS_OUT_OF_REACH, LaunchedRunner
from taskflow_dev.scripted_model import API_KEY, ScriptedModel

PODMAN = str(REPO_ROOT / "scripts" / "podman.sh")
# A cold build (Debian bases with debootstrap, the dependency layer, Kafka's jars) on a busy
# machine; a warm one takes seconds.
BUILD_TIMEOUT_SECONDS = 45 * 60
START_TIMEOUT_SECONDS = 360.0
# Ctrl-C stops 13 containers, each with a 10 s grace (PostgreSQL takes all of it), and removes
# them and the network: more than LaunchedRunner's 30 s on a loaded machine (load 28: killed
# while podman was still removing).
STOP_TIMEOUT_SECONDS = 180.0


def podman_json(*arguments: str) -> list[dict]:
    result = subprocess.run(
        [PODMAN, *arguments, "--format", "json"], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout or "[]")


@pytest.fixture(scope="session")
def model() -> Iterator[ScriptedModel]:
    """The session's model; each test sets its script. On every address: the containers' gateway
    address exists only once the run's network does (ScriptedModel's docstring)."""
    server = ScriptedModel(host="0.0.0.0")
    yield server
    server.close()


@pytest.fixture(scope="session")
def product(
    tmp_path_factory: pytest.TempPathFactory, model: ScriptedModel
) -> Iterator[LaunchedRunner]:
    build = subprocess.run(
        [sys.executable, "-m", "taskflow_dev.local.images"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    chat_model = {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": f"http://{HOST_FROM_CONTAINERS}:{model.port}/v1",
        "OPENAI_MODEL": "scripted",
    }
    # The isolation checks send more chat turns than one person's limit allows in a minute, as
    # the reliability stack's do; the limiter is tested in tests/reliability/test_rate_limits.py.
    runner = LaunchedRunner(
        tmp_path_factory.mktemp("containers"),
        env={**chat_model, **RATE_LIMITS_OUT_OF_REACH},
        arguments=["--containers"],
    )
    try:
        runner.wait_ready(timeout=START_TIMEOUT_SECONDS)
        yield runner
    finally:
        code = runner.stop(timeout=STOP_TIMEOUT_SECONDS)
        left = podman_json("ps", "-a", "--filter", f"label=taskflow.up=taskflow-{runner.ports.web}")
        assert left == [], f"containers left after Ctrl-C: {[c['Names'] for c in left]}"
        assert code == 0, runner.output()[-4000:]
