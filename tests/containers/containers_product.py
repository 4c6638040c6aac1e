"""One `just up --containers` for the whole session of tests/containers (each start costs about
45 s and the machines are small): the fixture, and podman as these tests call it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from taskflow.config import REPO_ROOT
from taskflow_dev.local.launch import LaunchedRunner

PODMAN = str(REPO_ROOT / "scripts" / "podman.sh")
# A cold build (Debian bases with debootstrap, the dependency layer, Kafka's jars) on a busy
# machine; a warm one takes seconds.
BUILD_TIMEOUT_SECONDS = 45 * 60
START_TIMEOUT_SECONDS = 360.0


def podman_json(*arguments: str) -> list[dict]:
    result = subprocess.run(
        [PODMAN, *arguments, "--format", "json"], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout or "[]")


@pytest.fixture(scope="session")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedRunner]:
    build = subprocess.run(
        [sys.executable, "-m", "taskflow_dev.local.images"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    runner = LaunchedRunner(tmp_path_factory.mktemp("containers"), arguments=["--containers"])
    try:
        runner.wait_ready(timeout=START_TIMEOUT_SECONDS)
        yield runner
    finally:
        code = runner.stop()
        left = podman_json("ps", "-a", "--filter", f"label=taskflow.up=taskflow-{runner.ports.web}")
        assert left == [], f"containers left after Ctrl-C: {[c['Names'] for c in left]}"
        assert code == 0, runner.output()[-4000:]
