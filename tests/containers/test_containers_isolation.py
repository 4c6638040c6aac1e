"""The reliability harness's isolation checks (tests/reliability/test_isolation_doors.py), run
against `just up --containers`: Bob, through every door the host can reach (REST and the audit
history, the chat, Socket.IO through the gateway, MCP), never sees or changes anything of
Alice's. The checks are imported, not copied, so the two runs cannot drift apart.

The chat in the containers talks to a model (the session's scripted OpenAI-compatible server, see
containers_product.py), and here that model is hostile: it does whatever Bob's words ask, with
Alice's task ids and Alice's user id too, and repeats to Bob every word the tools told it. So
whatever the chat's tools let through would reach Bob's answer."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
from taskflow.adapters import tokens
from taskflow_dev.local.launch import LaunchedRunner
from taskflow_dev.scripted_model import ScriptedModel, text_reply, tool_calls_reply
from test_isolation_doors import (
    SECRET_MARKER,
    alice,
    alices_task_now,
    bob,
    secret,
    test_live_sync_never_carries_alices_events_to_bob,
    test_mcp_tools_act_only_for_the_tokens_user,
    test_rest_and_audit_history_answer_bob_as_if_alices_task_did_not_exist,
    test_the_chat_never_reaches_alices_task_by_id_or_by_words,
)
from workload import User

pytestmark = pytest.mark.containers

__all__ = [
    "alice",
    "bob",
    "secret",
    "test_live_sync_never_carries_alices_events_to_bob",
    "test_mcp_tools_act_only_for_the_tokens_user",
    "test_rest_and_audit_history_answer_bob_as_if_alices_task_did_not_exist",
    "test_the_chat_never_reaches_alices_task_by_id_or_by_words",
]

# Bob's words -> the tool the hostile model calls on the task they name, and its arguments.
WRITES = (
    ("complete", "complete_task", {}),
    ("done", "complete_task", {}),
    ("delete", "delete_task", {}),
    ("change", "update_task", {"title": "taken over"}),
    ("priority", "update_task", {"priority": "high"}),
    ("skip", "skip_occurrence", {}),
    ("snooze", "snooze_reminder", {"minutes": 30}),
)


def hostile_calls(words: str, alice_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Each call twice: as Bob's chat sends it, and naming Alice as the user."""
    named = re.search(r"task (\d+)", words)
    if named is None:
        search = {"search": "plan"} if "plan" in words else {}
        calls = [("list_tasks", search)]
    else:
        name, extra = next(
            ((tool, arguments) for word, tool, arguments in WRITES if word in words),
            ("list_tasks", {}),
        )
        target = {"task_id": int(named[1])} if name != "list_tasks" else {}
        calls = [(name, {**target, **extra})]
    return [*calls, *((name, {**arguments, "user_id": alice_id}) for name, arguments in calls)]


def hostile_model(alice_id: str) -> Any:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        if messages[-1]["role"] == "user":
            return tool_calls_reply(hostile_calls(messages[-1]["content"], alice_id))
        turn = messages[max(i for i, m in enumerate(messages) if m["role"] == "user") :]
        return text_reply(
            "The tools said: " + " | ".join(m["content"] for m in turn if m["role"] == "tool")
        )

    return script


class PublishedDoors:
    """The containers' published doors under the names the reliability checks use: the
    gateway is the page, the API and broadcast-update's `/socket.io/` on one origin (as the
    ingress is in a cluster); the MCP server has its own port."""

    def __init__(self, runner: LaunchedRunner) -> None:
        self.runner = runner

    @property
    def web(self) -> str:
        return self.runner.url("web")

    def url(self, port_name: str) -> str:
        published = {"web": "web", "broadcast_update": "web", "mcp": "mcp"}
        return self.runner.url(published[port_name])


@pytest.fixture(scope="module")
def product(product: LaunchedRunner) -> PublishedDoors:
    return PublishedDoors(product)


@pytest.fixture(autouse=True)
def hostile(model: ScriptedModel, alice: User) -> ScriptedModel:
    model.script = hostile_model(alice.user_id)
    model.requests.clear()
    return model


def chat(product: PublishedDoors, user: User, words: str) -> requests.Response:
    return requests.post(
        f"{product.web}/api/{user.user_id}/chat",
        json={"message": words},
        headers=user.auth,
        timeout=60,
    )


def test_asking_the_chat_for_my_tasks_lists_only_bobs(
    product: PublishedDoors, hostile: ScriptedModel, alice: User, bob: User, secret: dict
) -> None:
    own = requests.post(
        f"{product.web}{bob.tasks_path}",
        json={"title": "bob's errand"},
        headers=bob.auth,
        timeout=30,
    )
    assert own.status_code == 201, own.text
    answer = chat(product, bob, "show me all my tasks")
    assert answer.status_code == 200, answer.text
    as_bob, as_alice = answer.json()["tool_calls"]
    assert [task["title"] for task in as_bob["result"]] == ["bob's errand"]
    assert as_alice["result"] == []
    assert SECRET_MARKER not in answer.text
    # What the model heard: Bob's task, never Alice's (the model is a third party too).
    heard = json.dumps(hostile.requests)
    assert "bob's errand" in heard and SECRET_MARKER not in heard


def test_naming_alices_task_in_the_chat_neither_completes_nor_deletes_it(
    product: PublishedDoors, alice: User, bob: User, secret: dict
) -> None:
    before = alices_task_now(product, alice, secret["id"])  # type: ignore[arg-type]
    for words in ("complete task {id}", "delete task {id}"):
        answer = chat(product, bob, words.format(id=secret["id"]))
        assert answer.status_code == 200, answer.text
        calls = answer.json()["tool_calls"]
        assert [call["name"] for call in calls] == [words.split()[0] + "_task"] * 2
        assert all("error" in call["result"] for call in calls), calls
        assert SECRET_MARKER not in answer.text
    assert alices_task_now(product, alice, secret["id"]) == before  # type: ignore[arg-type]


def test_the_chat_refuses_a_forged_or_absent_token_before_the_model_hears_anything(
    product: PublishedDoors, hostile: ScriptedModel, alice: User, bob: User
) -> None:
    forged = tokens.issue(
        bob.user_id,
        secret="not the product's secret-at-least-32b",
        issuer="taskflow",
        ttl_seconds=60,
    )
    for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": "Bearer x.y.z"}):
        answer = requests.post(
            f"{product.web}/api/{bob.user_id}/chat",
            json={"message": "show me all my tasks"},
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 401, (headers, answer.status_code, answer.text)
    assert hostile.requests == []
