"""The live-sync attack of issue 12, against the whole product: websockets opened on
broadcast-update's public Socket.IO path by someone with no token, and left idle. Each used to
hold one of the threaded server's 256 threads; past 256, live sync, its health probe and the
broker's deliveries all stalled. Now they cost no thread, and each is closed when it has not
authenticated in time (tests/functions/test_broadcast_update.py checks the closing)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket
from stack import Stack, running_stack, wait_until
from taskflow_dev.local.launch import RATE_LIMITS_OUT_OF_REACH
from workload import Listener, User

IDLE_SOCKETS = 300  # beyond the 256 threads that froze live sync


@pytest.fixture(scope="module")
def patient_product(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Stack]:
    """The product with the unauthenticated sockets' deadline out of reach, so the flood is
    still open while the users are checked."""
    workdir = tmp_path_factory.mktemp("flood")
    path = workdir / "taskflow.db"
    shutil.copyfile(sqlite_template, path)
    env = {**RATE_LIMITS_OUT_OF_REACH, "TASKFLOW_SOCKET_AUTH_TIMEOUT_SECONDS": "600"}
    with running_stack(workdir, f"sqlite:///{path}", env=env) as stack:
        yield stack


def idle_socket(base_url: str) -> websocket.WebSocket:
    """A websocket on the Socket.IO path that reads the Engine.IO open packet and then never
    sends anything: no Socket.IO connect, no token."""
    ws_url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(ws_url, timeout=10)
    assert ws.recv().startswith("0{"), "no Engine.IO open packet"
    return ws


def test_idle_sockets_without_a_token_do_not_freeze_live_sync(patient_product: Stack) -> None:
    live_url = patient_product.url("broadcast_update")
    flood = [idle_socket(live_url) for _ in range(IDLE_SOCKETS)]
    try:
        alice = User(patient_product.web, seed=31)
        bob = User(patient_product.web, seed=32)
        alices_tab, bobs_tab = Listener(live_url, alice), Listener(live_url, bob)
        assert requests.get(f"{live_url}/healthz", timeout=10).status_code == 200

        # Through the API, create-task, the outbox and the broker's delivery to broadcast-update.
        answer = alice.session.post(
            f"{patient_product.web}{alice.tasks_path}", json={"title": "buy seeds"}, timeout=10
        )
        assert answer.status_code == 201, answer.text
        task_id = answer.json()["id"]
        wait_until(
            lambda: any(data["task_id"] == task_id for data in alices_tab.received),
            what="alice's task.created on her live connection",
        )
        answer = bob.session.post(
            f"{patient_product.web}{bob.tasks_path}", json={"title": "bob's own"}, timeout=10
        )
        assert answer.status_code == 201, answer.text
        bobs_task = answer.json()["id"]
        wait_until(
            lambda: any(data["task_id"] == bobs_task for data in bobs_tab.received),
            what="bob's task.created on his live connection",
        )
        # One socket receives in emit order: had Alice's event reached Bob, it would be first.
        assert [data["task_id"] for data in bobs_tab.received] == [bobs_task]
        assert alices_tab.foreign() == [] and bobs_tab.foreign() == []
        alices_tab.close()
        bobs_tab.close()
    finally:
        for ws in flood:
            ws.close(timeout=0)
