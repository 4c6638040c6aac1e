"""bench/command_path.py publishes no figure over a command path that does not work: a real daprd
with the chart's HTTPEndpoint and Resiliency, whose create-task is not there, answers the create
with an error after the policy's retries, and the benchmark stops with the path and the answer
instead of timing it. No timings are asserted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from taskflow_dev.local.launch import free_port

from bench import command_path
from bench.machine import REPO_ROOT
from bench.product import User


@pytest.fixture(scope="module", autouse=True)
def daprd_built() -> None:
    """As `scripts/dapr.sh daprd` does: build the pinned daprd once when it is missing."""
    if not command_path.DAPRD.exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "dapr.sh"), "build"], check=True)


def test_a_create_that_fails_through_the_sidecar_stops_the_run(tmp_path: Path) -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    with command_path.running_daprd(tmp_path, nothing_listens, tmp_path / "results") as sidecar:
        dapr = command_path.Web("dapr", f"{sidecar}/v1.0/invoke/create-task-knative/method")
        with pytest.raises(command_path.CreateFailed) as failure:
            command_path.alternate([dapr], [User("someone", "token")], samples=1)
    message = str(failure.value)
    assert "over the dapr path answered 500" in message
    assert "no figure is reported" in message
    # daprd's log is kept beside the results, where a reader of the failure looks.
    assert "create-task-knative" in (tmp_path / "results" / "command_path-daprd.log").read_text()
