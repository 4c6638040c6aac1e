"""`python -m taskflow_dev.local` (what `just up` runs) starts the whole product on free ports, a
write travels through the outbox, the router and the functions, the MCP server sees it, and
Ctrl-C stops every process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from taskflow_dev.local.launch import STOP_TIMEOUT_SECONDS, LaunchedRunner, descendants, wait_until

WAIT_SECONDS = 30.0


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[LaunchedRunner]:
    started = LaunchedRunner(tmp_path)
    try:
        yield started
    finally:
        started.stop()


def sign_up(web: str) -> tuple[str, dict[str, str]]:
    answer = requests.post(
        f"{web}/api/auth/signup",
        json={"email": "ann@example.com", "password": "correct horse battery staple"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return body["user_id"], {"Authorization": f"Bearer {body['token']}"}


async def completed_task_ids_over_mcp(mcp_url: str, auth: dict[str, str]) -> list[str]:
    client = Client(streamable_http_client(mcp_url, http_client=create_mcp_http_client(auth)))
    async with client:
        result = await client.call_tool("list_tasks", {"status": "completed"})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return [task["id"] for task in result.structured_content["result"]]


def test_up_runs_the_product_and_ctrl_c_stops_every_process(runner: LaunchedRunner) -> None:
    runner.wait_ready()
    for name in ("web", "router", "create_task", "send_reminder", "write_audit"):
        assert runner.url(name) in runner.output()  # the table says where everything is
    mcp = f"{runner.url('mcp')}/mcp"
    assert mcp in runner.output()
    assert requests.get(f"{runner.url('router')}/healthz", timeout=5).status_code == 200

    # A recurring task completed through the API: the outbox relay publishes the events, the
    # router delivers them to write-audit and spawn-recurrence, whose reply makes create-task
    # create the next occurrence.
    web = runner.url("web")
    user, auth = sign_up(web)
    created = requests.post(
        f"{web}/api/{user}/tasks",
        json={
            "title": "water plants",
            "due": "2030-01-01T09:00",
            "recurrence": {"rule": "FREQ=DAILY"},
        },
        headers=auth,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    completed = requests.patch(
        f"{web}/api/{user}/tasks/{task_id}/complete", headers=auth, timeout=10
    )
    assert completed.status_code == 200, completed.text

    def occurrences() -> int:
        listing = requests.get(f"{web}/api/{user}/tasks?status=all", headers=auth, timeout=10)
        return listing.json()["total"]

    wait_until(lambda: occurrences() == 2, what="the next occurrence", timeout=WAIT_SECONDS)
    history = f"{web}/api/{user}/tasks/{task_id}/history"
    wait_until(
        lambda: len(requests.get(history, headers=auth, timeout=10).json()["items"]) == 2,
        what="the audit trail",
        timeout=WAIT_SECONDS,
    )
    assert requests.get(f"{runner.url('router')}/dead-letters", timeout=5).json() == []

    # The MCP server runs too: it refuses a call without a token and its tools act for the
    # token's user on the same tasks.
    assert requests.post(mcp, json={}, timeout=10).status_code == 401
    assert asyncio.run(completed_task_ids_over_mcp(mcp, auth)) == [task_id]

    children = runner.children
    # The router, the MCP server and five functions (each forks a gunicorn worker).
    assert len(children) >= 7
    runner.process.send_signal(signal.SIGINT)
    assert runner.process.wait(timeout=STOP_TIMEOUT_SECONDS) == 0
    assert [pid for pid in children if running(pid)] == []


def test_a_child_that_dies_is_restarted_once_then_the_runner_stops(runner: LaunchedRunner) -> None:
    runner.wait_ready()
    audit = runner.url("write_audit")

    def kill_write_audit() -> None:
        for pid in descendants(runner.process.pid):
            with contextlib.suppress(OSError):
                if "--target\x00write_audit" in Path(f"/proc/{pid}/cmdline").read_text():
                    os.kill(pid, signal.SIGKILL)

    def answers() -> bool:
        try:
            requests.get(f"{audit}/healthz", timeout=1)
        except requests.RequestException:
            return False
        return True

    kill_write_audit()
    wait_until(
        lambda: "restarting it (once)" in runner.output(), what="the restart", timeout=WAIT_SECONDS
    )
    wait_until(answers, what="write-audit to answer again", timeout=60)

    children = descendants(runner.process.pid)
    kill_write_audit()
    assert runner.process.wait(timeout=STOP_TIMEOUT_SECONDS) == 1
    assert "write-audit exited again" in runner.output()
    assert [pid for pid in children if running(pid)] == []
