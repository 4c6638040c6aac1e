"""The online agent with the real openai client against a scripted OpenAI-compatible server that
this test starts: the model asks for a tool, the tool runs, its result goes back, the final
answer is returned and stored, and the next turn sends the whole history back to the model."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import Account, hand_on
from chat_helpers import say, tasks_of
from flask.testing import FlaskClient
from taskflow.chat.agent import MAX_ROUNDS
from taskflow.config import Settings
from taskflow.entrypoints.api import create_app
from taskflow_dev.scripted_model import API_KEY, ScriptedModel, text_reply, tool_call_reply


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModel]:
    server = ScriptedModel()
    yield server
    server.close()


@pytest.fixture(scope="module")
def online_client(settings: Settings, model: ScriptedModel) -> Iterator[FlaskClient]:
    online = dataclasses.replace(
        settings, openai_api_key=API_KEY, openai_base_url=model.url, openai_model="scripted"
    )
    app = create_app(online)
    yield app.test_client()
    app.extensions["taskflow"].engine.dispose()


def _last_message(body: dict[str, Any]) -> dict[str, Any]:
    return body["messages"][-1]


def test_the_tool_calling_loop_end_to_end(
    online_client: FlaskClient, model: ScriptedModel, alice: Account
) -> None:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        last = _last_message(body)
        if last["role"] == "user":
            return tool_call_reply("call_1", "add_task", {"title": "Buy milk", "priority": "high"})
        result = json.loads(last["content"])
        return text_reply(
            f"Added task {result['task_id']}: {result['title']} ({result['status']})."
        )

    model.script = script
    model.requests.clear()
    answer = say(online_client, alice, "I must buy milk, it's urgent")

    (task,) = tasks_of(online_client, alice)
    assert (task["title"], task["priority"]) == ("Buy milk", "high")
    assert answer["response"] == f"Added task {task['id']}: Buy milk (created)."
    assert answer["tool_calls"] == [
        {
            "name": "add_task",
            "arguments": {"title": "Buy milk", "priority": "high"},
            "result": {"task_id": task["id"], "status": "created", "title": "Buy milk"},
        }
    ]
    first, second = model.requests
    assert first["model"] == "scripted"
    assert {tool["function"]["name"] for tool in first["tools"]} >= {
        "add_task",
        "list_tasks",
        "complete_task",
        "delete_task",
        "update_task",
    }
    tool_message = _last_message(second)
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    assert second["messages"][-2]["tool_calls"][0]["id"] == "call_1"

    # The next turn carries the stored history: the question, the tool call and the answer.
    model.script = lambda body: text_reply("You have one task.")
    model.requests.clear()
    say(online_client, alice, "How many tasks do I have?", answer["conversation_id"])
    (follow_up,) = model.requests
    roles = [message["role"] for message in follow_up["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert follow_up["messages"][4]["content"] == answer["response"]
    assert json.loads(follow_up["messages"][3]["content"])["task_id"] == task["id"]


def test_the_model_cannot_act_for_another_user(
    online_client: FlaskClient, model: ScriptedModel, alice: Account, bob: Account
) -> None:
    say_alice = online_client.post(
        f"/api/{alice.user_id}/tasks", json={"title": "alice's diary"}, headers=alice.headers
    )
    assert say_alice.status_code == 201

    def script(body: dict[str, Any]) -> dict[str, Any]:
        last = _last_message(body)
        if last["role"] == "user":
            return tool_call_reply("call_x", "list_tasks", {"user_id": alice.user_id})
        return text_reply(f"Found: {last['content']}")

    model.script = script
    answer = say(online_client, bob, f"Show me the tasks of user {alice.user_id}")
    assert answer["tool_calls"][0]["result"] == []
    assert "diary" not in answer["response"]


def test_a_bad_tool_call_goes_back_to_the_model_as_an_error(
    online_client: FlaskClient, model: ScriptedModel, alice: Account
) -> None:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        last = _last_message(body)
        if last["role"] == "user":
            return tool_call_reply("call_bad", "complete_task", {"task_id": "not a number"})
        return text_reply("Sorry, that failed: " + json.loads(last["content"])["error"])

    model.script = script
    answer = say(online_client, alice, "complete it")
    assert "error" in answer["tool_calls"][0]["result"]
    assert answer["response"].startswith("Sorry, that failed: invalid arguments: task_id")


def test_a_model_that_never_stops_calling_tools_is_cut_off(
    online_client: FlaskClient, model: ScriptedModel, alice: Account
) -> None:
    model.script = lambda body: tool_call_reply(f"call_{len(body['messages'])}", "list_tasks", {})
    model.requests.clear()
    answer = say(online_client, alice, "loop forever")
    assert "too many steps" in answer["response"]
    assert len(model.requests) == MAX_ROUNDS


def test_an_unreachable_model_is_a_502(settings: Settings, alice: Account) -> None:
    broken = dataclasses.replace(
        settings, openai_api_key=API_KEY, openai_base_url="http://127.0.0.1:9/v1"
    )
    app = create_app(broken)
    try:
        response = app.test_client().post(
            f"/api/{alice.user_id}/chat", json={"message": "hello"}, headers=alice.headers
        )
    finally:
        app.extensions["taskflow"].engine.dispose()
    assert response.status_code == 502


def test_it_undo_and_the_users_language_through_the_model(
    online_client: FlaskClient, model: ScriptedModel, alice: Account
) -> None:
    """The model gets what it needs for "delete it" (the earlier turn's tool result with the
    task id), for "undo" (a restore_task tool), and is told to answer in the user's language
    and in plain words."""
    steps = iter(
        [
            tool_call_reply("call_a", "add_task", {"title": "doodh lena"}),
            text_reply("Task add ho gaya: doodh lena."),
        ]
    )
    model.script = lambda body: next(steps)
    model.requests.clear()
    first = say(online_client, alice, "doodh lena add karo")
    task_id = first["tool_calls"][0]["result"]["task_id"]
    system = model.requests[0]["messages"][0]["content"]
    assert "language the user writes in" in system
    assert "never rule text" in system and "Undo" in system

    def delete_what_it_is(body: dict[str, Any]) -> dict[str, Any]:
        if _last_message(body)["role"] == "tool":
            return text_reply("Deleted it.")
        earlier = [m for m in body["messages"] if m["role"] == "tool"]
        focus = json.loads(earlier[-1]["content"])["task_id"]  # the task in focus
        return tool_call_reply("call_b", "delete_task", {"task_id": focus})

    model.script = delete_what_it_is
    deleted = say(online_client, alice, "delete it", first["conversation_id"])
    assert deleted["tool_calls"][0]["arguments"] == {"task_id": task_id}
    assert tasks_of(online_client, alice) == []

    def undo(body: dict[str, Any]) -> dict[str, Any]:
        if _last_message(body)["role"] == "tool":
            return text_reply("Wapas aa gaya.")
        assert "restore_task" in {tool["function"]["name"] for tool in body["tools"]}
        return tool_call_reply("call_c", "restore_task", {"task_id": task_id})

    model.script = undo
    say(online_client, alice, "undo", first["conversation_id"])
    (back,) = tasks_of(online_client, alice)
    assert (back["id"], back["title"]) == (task_id, "doodh lena")


def test_undo_of_a_repeating_completion_through_the_model(
    online_client: FlaskClient,
    model: ScriptedModel,
    alice: Account,
    broker: Any,
    spawn_recurrence_url: str,
    settings: Settings,
) -> None:
    """The model undoes a completion with uncomplete_task, found in the replayed history; the
    next occurrence the completion made goes away, and a later completion makes one again."""
    steps = iter(
        [
            tool_call_reply(
                "call_a",
                "add_task",
                {
                    "title": "feed the cat",
                    "due": "2031-01-01",
                    "recurrence": {"rule": "FREQ=DAILY"},
                },
            ),
            text_reply("Added feed the cat, every day."),
        ]
    )
    model.script = lambda body: next(steps)
    first = say(online_client, alice, "add feed the cat every day from 1 Jan 2031")
    task_id = first["tool_calls"][0]["result"]["task_id"]

    def complete_it(body: dict[str, Any]) -> dict[str, Any]:
        if _last_message(body)["role"] == "tool":
            return text_reply("Done, the next one is tomorrow.")
        return tool_call_reply("call_b", "complete_task", {"task_id": task_id})

    model.script = complete_it
    say(online_client, alice, "done", first["conversation_id"])
    hand_on(broker, spawn_recurrence_url, settings.create_task_url, task_id)

    def series() -> list[tuple[int, bool]]:
        return sorted(
            (task["recurrence"]["occurrence"], task["completed"])
            for task in tasks_of(online_client, alice, status="all")
            if task["title"] == "feed the cat"
        )

    assert series() == [(1, True), (2, False)]

    def undo(body: dict[str, Any]) -> dict[str, Any]:
        if _last_message(body)["role"] == "tool":
            return text_reply("Undone: feed the cat is open again.")
        calls = [m for m in body["messages"] if m["role"] == "assistant" and m.get("tool_calls")]
        last_call = calls[-1]["tool_calls"][0]["function"]
        assert last_call["name"] == "complete_task"
        return tool_call_reply("call_c", "uncomplete_task", json.loads(last_call["arguments"]))

    model.script = undo
    undone = say(online_client, alice, "undo", first["conversation_id"])
    assert undone["tool_calls"][0]["name"] == "uncomplete_task"
    assert series() == [(1, False)]

    model.script = complete_it
    say(online_client, alice, "done", first["conversation_id"])
    hand_on(broker, spawn_recurrence_url, settings.create_task_url, task_id)
    assert series() == [(1, True), (2, False)]
