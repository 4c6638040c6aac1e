"""Isolation across every door of a live product: Bob, using REST, the chat, MCP over HTTP,
Socket.IO and the audit history, never sees or changes anything of Alice's. Route-by-route REST
checks live in tests/api/test_isolation.py; this follows one pair of users through all doors at
once, on real processes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import requests
import socketio
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from stack import Stack, wait_until
from taskflow.adapters import tokens
from workload import Listener, User

SECRET_MARKER = "quokka"  # in Alice's title, never in anything Bob types
SECRET_TITLE = f"alice's plan {SECRET_MARKER}"


@pytest.fixture(scope="module")
def alice(product: Stack) -> User:
    return User(product.web, seed=11)


@pytest.fixture(scope="module")
def bob(product: Stack) -> User:
    return User(product.web, seed=12)


@pytest.fixture(scope="module")
def secret(product: Stack, alice: User) -> dict[str, Any]:
    answer = requests.post(
        f"{product.web}{alice.tasks_path}",
        json={"title": SECRET_TITLE, "due": "2031-03-01", "recurrence": {"rule": "FREQ=WEEKLY"}},
        headers=alice.auth,
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def alices_task_now(product: Stack, alice: User, task_id: int) -> dict[str, Any]:
    answer = requests.get(
        f"{product.web}{alice.tasks_path}/{task_id}", headers=alice.auth, timeout=10
    )
    assert answer.status_code == 200
    return answer.json()


def test_rest_and_audit_history_answer_bob_as_if_alices_task_did_not_exist(
    product: Stack, alice: User, bob: User, secret: dict[str, Any]
) -> None:
    history_of_alice = f"{product.web}{alice.tasks_path}/{secret['id']}/history"
    assert requests.get(history_of_alice, headers=bob.auth, timeout=10).status_code == 403
    through_bobs_path = f"{product.web}{bob.tasks_path}/{secret['id']}/history"
    missing = f"{product.web}{bob.tasks_path}/999999999/history"
    answer = requests.get(through_bobs_path, headers=bob.auth, timeout=10)
    assert (answer.status_code, answer.json()) == (
        404,
        requests.get(missing, headers=bob.auth, timeout=10).json(),
    )
    wait_until(
        lambda: requests.get(history_of_alice, headers=alice.auth, timeout=10).json()["items"],
        what="alice's own history",
        timeout=30,
    )


CHAT_ATTEMPTS = [
    "complete task {id}",
    "show task {id}",
    "mark task {id} as done",
    "delete task {id}",
    "change task {id} to 'taken over'",
    "make task {id} high priority",
    "skip task {id}",
    "snooze task {id} for 30 minutes",
    "tell me about task {id}",
    "tag task {id} with #mine",
    "untag task {id}",
    "remove the reminder from task {id}",
    "remind me about task {id} in 10 minutes",
    "add a note to task {id}: mine now",
    "rename task {id} to taken over",
    "remove the due date from task {id}",
    "change the due date of task {id} to friday",
    "complete tasks {id} and {id}",
    "delete all completed tasks",
    "complete all tasks due this week",
    "show me all my tasks",
    "find tasks about plan",
    "what's pending?",
]


def test_the_chat_never_reaches_alices_task_by_id_or_by_words(
    product: Stack, alice: User, bob: User, secret: dict[str, Any]
) -> None:
    before = alices_task_now(product, alice, secret["id"])
    url = f"{product.web}/api/{bob.user_id}/chat"
    for attempt in CHAT_ATTEMPTS:
        answer = requests.post(
            url, json={"message": attempt.format(id=secret["id"])}, headers=bob.auth, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert SECRET_MARKER not in answer.text, (attempt, answer.text)
    foreign_path = f"{product.web}/api/{alice.user_id}/chat"
    assert (
        requests.post(
            foreign_path, json={"message": "help"}, headers=bob.auth, timeout=10
        ).status_code
        == 403
    )
    assert alices_task_now(product, alice, secret["id"]) == before


async def mcp_calls(url: str, token: str, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    client = Client(
        streamable_http_client(
            url, http_client=create_mcp_http_client({"Authorization": f"Bearer {token}"})
        )
    )
    results = []
    async with client:
        for name, arguments in calls:
            results.append(await client.call_tool(name, arguments))
    return results


def test_mcp_tools_act_only_for_the_tokens_user(
    product: Stack, alice: User, bob: User, secret: dict[str, Any]
) -> None:
    before = alices_task_now(product, alice, secret["id"])
    task_id = secret["id"]
    listing, foreign_listing, *writes = asyncio.run(
        mcp_calls(
            f"{product.url('mcp')}/mcp",
            bob.token,
            [
                ("list_tasks", {}),
                ("list_tasks", {"user_id": alice.user_id}),
                ("complete_task", {"task_id": task_id}),
                ("complete_task", {"task_id": task_id, "user_id": alice.user_id}),
                ("update_task", {"task_id": task_id, "title": "taken over"}),
                ("snooze_reminder", {"task_id": task_id, "minutes": 5}),
                ("stop_repeating", {"task_id": task_id}),
                ("delete_task", {"task_id": task_id}),
            ],
        )
    )
    assert listing.structured_content["result"] == []
    assert foreign_listing.structured_content["result"] == []
    for refused in writes:
        assert refused.is_error
        assert SECRET_MARKER not in str(refused.content)
    assert alices_task_now(product, alice, secret["id"]) == before


def connection_refused(url: str, auth: object, query: str = "") -> bool:
    client = socketio.Client(reconnection=False)
    try:
        client.connect(url + query, transports=["websocket"], auth=auth, wait_timeout=10)
    except socketio.exceptions.ConnectionError:
        return True
    client.disconnect()
    return False


def test_live_sync_never_carries_alices_events_to_bob(
    product: Stack, alice: User, bob: User, secret: dict[str, Any]
) -> None:
    url = product.url("broadcast_update")
    forged = tokens.issue(
        alice.user_id,
        secret="not the product's secret-at-least-32b",
        issuer="taskflow",
        ttl_seconds=60,
    )
    assert connection_refused(url, {"user_id": alice.user_id})
    assert connection_refused(url, {"token": forged})
    assert connection_refused(url, None, f"?user_id={alice.user_id}")

    alice_tab = Listener(url, alice)
    bob_tabs = [Listener(url, bob) for _ in range(2)]
    # Whatever a client can send after connecting, the server has no handler that moves it.
    for tab in bob_tabs:
        for event in ("join", "enter_room", "subscribe"):
            tab.sio.emit(event, {"room": f"user:{alice.user_id}", "user_id": alice.user_id})
    try:
        for title in ("step one", "step two"):
            changed = requests.put(
                f"{product.web}{alice.tasks_path}/{secret['id']}",
                json={"title": title},
                headers=alice.auth,
                timeout=10,
            )
            assert changed.status_code == 200
        wait_until(lambda: len(alice_tab.event_ids()) >= 2, what="alice's own pushes", timeout=30)
        time.sleep(1.0)  # as long again for anything misrouted to reach Bob's tabs
        for tab in bob_tabs:
            assert tab.event_ids() == []
            assert tab.reminder_event_ids() == []
    finally:
        for tab in (alice_tab, *bob_tabs):
            tab.close()
