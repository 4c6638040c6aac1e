"""broadcast-update through real HTTP and real Socket.IO clients (websocket transport): events
reach every connected client of their user, no one else, and only once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import socketio
from function_events import BROKER_SOURCE, a_task, post_binary, post_structured, task_event
from function_processes import JWT_SECRET
from taskflow import catalogue
from taskflow.adapters import tokens
from taskflow.local.launch import wait_until


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


@pytest.fixture
def broadcast_url(start_function, stateless_env) -> str:
    return start_function("broadcast_update", stateless_env)


@pytest.fixture
def connect(broadcast_url) -> Iterator:
    clients: list[LiveClient] = []

    def connect_as(user_id: str) -> LiveClient:
        client = LiveClient(broadcast_url, token_for(user_id))
        clients.append(client)
        return client

    yield connect_as
    for client in clients:
        client.sio.disconnect()


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
