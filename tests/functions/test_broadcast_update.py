"""broadcast-update through real HTTP and real Socket.IO clients (websocket transport): events
reach every connected client of their user, no one else, and only once; sockets that never
authenticate neither stall it nor stay open."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
import socketio
import websocket
from function_events import BROKER_SOURCE, a_task, post_binary, post_structured, task_event
from function_processes import JWT_SECRET
from taskflow import catalogue
from taskflow.adapters import tokens
from taskflow_dev.local.launch import wait_until


class LiveClient:
    """A Socket.IO client of one user that records what it is pushed, in order."""

    def __init__(self, base_url: str, token: str) -> None:
        self.received: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record)
        self.sio.connect(base_url, transports=["websocket"], auth={"token": token}, wait_timeout=10)

    def _record(self, name: str, data: dict) -> None:
        with self._lock:
            self.received.append((name, data))

    def event_ids(self) -> list[str]:
        with self._lock:
            return [data["event_id"] for _, data in self.received]

    def wait_for(self, event_id: str) -> None:
        wait_until(lambda: event_id in self.event_ids(), what=f"event {event_id} on the client")


def token_for(user_id: str) -> str:
    return tokens.issue(user_id, secret=JWT_SECRET, issuer="tests", ttl_seconds=600)


# Idle sockets opened by someone without a token: more than the 256 threads the threaded server
# had, each of which one such socket held until it froze live sync (issue 12).
IDLE_SOCKETS = 300


@pytest.fixture
def broadcast_url(start_function, stateless_env) -> str:
    # Unauthenticated sockets stay open for the whole test unless a test shortens this.
    return start_function(
        "broadcast_update", {**stateless_env, "TASKFLOW_SOCKET_AUTH_TIMEOUT_SECONDS": "600"}
    )


@pytest.fixture
def impatient_broadcast_url(start_function, stateless_env) -> str:
    return start_function(
        "broadcast_update", {**stateless_env, "TASKFLOW_SOCKET_AUTH_TIMEOUT_SECONDS": "1"}
    )


def connector(url: str) -> Iterator:
    clients: list[LiveClient] = []

    def connect_as(user_id: str) -> LiveClient:
        client = LiveClient(url, token_for(user_id))
        clients.append(client)
        return client

    yield connect_as
    for client in clients:
        client.sio.disconnect()


@pytest.fixture
def connect(broadcast_url) -> Iterator:
    yield from connector(broadcast_url)


@pytest.fixture
def connect_impatient(impatient_broadcast_url) -> Iterator:
    yield from connector(impatient_broadcast_url)


def raw_socket(base_url: str) -> websocket.WebSocket:
    """A bare websocket on the Socket.IO path: the server's Engine.IO open packet is read, and
    nothing is ever sent (no Socket.IO connect, no token)."""
    ws_url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(ws_url, timeout=10)
    assert ws.recv().startswith("0{"), "no Engine.IO open packet"
    return ws


@pytest.fixture
def raw_sockets() -> Iterator[list[websocket.WebSocket]]:
    opened: list[websocket.WebSocket] = []
    yield opened
    for ws in opened:
        ws.close(timeout=0)


def closed_by_server(ws: websocket.WebSocket) -> bool:
    """True once the server has closed `ws` (a close frame or the connection gone); False
    while it stays open. Engine.IO packets on the way (the close packet "1") are read past."""
    ws.settimeout(0.01)  # a close already sent is already buffered
    try:
        while True:
            opcode, _ = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return True
    except websocket.WebSocketTimeoutException:
        return False
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        return True


def test_a_task_change_reaches_all_of_its_users_clients_and_no_one_else(broadcast_url, connect):
    alice_laptop, alice_phone, bob = connect("alice"), connect("alice"), connect("bob")
    created = task_event(catalogue.TASK_CREATED, a_task("alice", 1))
    bobs_own = task_event(catalogue.TASK_CREATED, a_task("bob", 2))

    assert post_binary(broadcast_url, created).status_code == 202
    assert post_structured(broadcast_url, bobs_own).status_code == 202

    alice_laptop.wait_for(created["id"])
    alice_phone.wait_for(created["id"])
    bob.wait_for(bobs_own["id"])
    # One socket receives in emit order: had Alice's event gone to Bob, it would precede his own.
    assert bob.event_ids() == [bobs_own["id"]]
    name, payload = alice_laptop.received[0]
    assert name == "task.created"
    assert payload["task_data"]["title"] == "water the plants"
    assert payload["user_id"] == "alice"


def test_a_redelivered_event_is_pushed_once(broadcast_url, connect):
    alice = connect("alice")
    task = a_task("alice", 1)
    task.complete(now=datetime.now(UTC))
    completed = task_event(catalogue.TASK_COMPLETED, task)
    marker = task_event(catalogue.TASK_DELETED, task)

    for _ in range(3):
        response = post_binary(broadcast_url, completed)
        assert response.status_code == 202
        assert response.content == b""
    post_binary(broadcast_url, marker)

    alice.wait_for(marker["id"])
    assert alice.event_ids() == [completed["id"], marker["id"]]
    assert [name for name, _ in alice.received] == ["task.completed", "task.deleted"]


def test_a_due_reminder_is_pushed_to_its_user(broadcast_url, connect):
    alice = connect("alice")
    due = catalogue.new_event(
        catalogue.REMINDER_DUE,
        {
            "task_id": 1,
            "reminder_id": "r1",
            "title": "water the plants",
            "due_at": None,
            "remind_at": datetime.now(UTC).isoformat(),
            "user_id": "alice",
        },
        user_id="alice",
        source=BROKER_SOURCE,
    )

    assert post_binary(broadcast_url, due).status_code == 202

    alice.wait_for(due["id"])
    assert alice.received[0][0] == "reminder.due"
    assert alice.received[0][1]["reminder_id"] == "r1"


@pytest.mark.parametrize(
    "auth",
    [
        None,
        {"token": "not-a-jwt"},
        {
            "token": tokens.issue(
                "alice",
                secret="another-secret-of-at-least-thirty-two-bytes",
                issuer="x",
                ttl_seconds=60,
            )
        },
        {"token": tokens.issue("alice", secret=JWT_SECRET, issuer="x", ttl_seconds=-60)},
    ],
    ids=["no token", "garbage", "wrong secret", "expired"],
)
def test_a_connection_without_a_valid_token_is_refused(broadcast_url, auth):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(broadcast_url, transports=["websocket"], auth=auth, wait_timeout=10)
    assert not client.connected


def test_malformed_deliveries_are_rejected_with_a_reason(broadcast_url):
    event = task_event(catalogue.TASK_CREATED, a_task("alice", 1))
    del event.data["user_id"]

    response = post_binary(broadcast_url, event)

    assert response.status_code == 400
    assert "user_id" in response.json()["error"]["reason"]


def test_idle_unauthenticated_websockets_do_not_stall_live_sync(
    broadcast_url, connect, raw_sockets
):
    raw_sockets.extend(raw_socket(broadcast_url) for _ in range(IDLE_SOCKETS))

    alice, bob = connect("alice"), connect("bob")
    assert requests.get(f"{broadcast_url}/healthz", timeout=10).status_code == 200
    created = task_event(catalogue.TASK_CREATED, a_task("alice", 1))
    bobs_own = task_event(catalogue.TASK_CREATED, a_task("bob", 2))
    assert post_binary(broadcast_url, created).status_code == 202
    assert post_binary(broadcast_url, bobs_own).status_code == 202

    alice.wait_for(created["id"])
    bob.wait_for(bobs_own["id"])
    assert alice.event_ids() == [created["id"]]
    assert bob.event_ids() == [bobs_own["id"]]
    # The idle sockets were held open all along: they did not get out of the way.
    assert not any(closed_by_server(ws) for ws in raw_sockets)


@pytest.mark.parametrize("sends", ["nothing", "a refused connect"])
def test_a_socket_that_does_not_authenticate_in_time_is_closed(
    impatient_broadcast_url, connect_impatient, raw_sockets, sends
):
    alice = connect_impatient("alice")  # in her room before the stranger's socket opens
    stranger = raw_socket(impatient_broadcast_url)
    raw_sockets.append(stranger)
    if sends == "a refused connect":
        stranger.send('40{"token": "not-a-jwt"}')
        assert stranger.recv().startswith("44"), "the connect was not refused"

    wait_until(lambda: closed_by_server(stranger), what="the server to close the socket")

    # Alice's socket, older than the stranger's, was not closed: it authenticated.
    created = task_event(catalogue.TASK_CREATED, a_task("alice", 1))
    assert post_binary(impatient_broadcast_url, created).status_code == 202
    alice.wait_for(created["id"])
