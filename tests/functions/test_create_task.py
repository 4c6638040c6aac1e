"""create-task through real HTTP: commands invoked directly (/commands) or delivered by the broker
(/), each applied once per CloudEvent id, with its events published to the broker right away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from database_state import run_command, tasks
from function_events import BROKER_SOURCE, new_id, post_binary, post_structured, reply_event
from function_processes import wait_until
from taskflow import catalogue
from taskflow.domain import commands


def command(type_: str, data: dict, *, event_id: str | None = None):
    return catalogue.new_event(
        type_, data, user_id=data["user_id"], source=BROKER_SOURCE, event_id=event_id or new_id()
    )


@pytest.fixture
def create_task_url(start_function, function_env) -> str:
    return start_function("create_task", function_env)


def invoke(create_task_url: str, type_: str, data: dict, **options) -> dict:
    """A command sent as the API sends it; the task of create-task's result CloudEvent."""
    result = reply_event(
        post_binary(f"{create_task_url}/commands", command(type_, data, **options))
    )
    assert result["type"] == catalogue.COMMAND_RESULT
    catalogue.validate(result["type"], result.data)
    assert result.data["status"] == "ok"
    return result.data["task"]


def published_ids(broker, type_: str, topic: str) -> list[str]:
    return [event["id"] for event in broker.events(type_, topic)]


def test_a_command_creates_a_task_and_publishes_its_event_on_both_topics(create_task_url, broker):
    task = invoke(
        create_task_url,
        catalogue.CREATE_TASK,
        {"user_id": "alice", "title": "buy milk", "tags": ["Groceries"], "priority": "p1"},
    )

    assert task["title"] == "buy milk"
    assert task["priority"] == "high"
    assert task["tags"] == ["groceries"]
    for topic in (catalogue.TOPIC_TASK_EVENTS, catalogue.TOPIC_TASK_UPDATES):
        wait_until(
            lambda topic=topic: broker.events(catalogue.TASK_CREATED, topic),
            what=f"task.created on {topic}",
        )
        (created,) = broker.events(catalogue.TASK_CREATED, topic)
        assert created.data["task_id"] == task["id"]
        assert created["partitionkey"] == "alice"


def test_a_retried_command_returns_the_first_answer_and_acts_once(
    create_task_url, broker, database_url
):
    data = {"user_id": "alice", "title": "only once"}
    command_id = new_id()

    first = invoke(create_task_url, catalogue.CREATE_TASK, data, event_id=command_id)
    again = invoke(create_task_url, catalogue.CREATE_TASK, data, event_id=command_id)
    later = invoke(create_task_url, catalogue.CREATE_TASK, {"user_id": "alice", "title": "next"})

    assert again == first
    assert tasks(database_url) == 2
    wait_until(
        lambda: len(broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)) >= 2,
        what="both task.created events",
    )
    created = broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)
    assert sorted(e.data["task_id"] for e in created) == sorted([first["id"], later["id"]])


@pytest.mark.parametrize(
    ("type_", "data", "status", "field"),
    [
        (catalogue.CREATE_TASK, {"user_id": "alice", "title": " "}, 422, "title"),
        (catalogue.CREATE_TASK, {"user_id": "alice", "title": "x", "due": "someday"}, 422, "due"),
        (catalogue.COMPLETE_TASK, {"user_id": "alice", "task_id": 999}, 404, None),
        (catalogue.SKIP_OCCURRENCE, {"user_id": "alice", "task_id": 999}, 404, None),
    ],
    ids=["blank title", "bad due", "unknown task", "skip unknown task"],
)
def test_a_refused_command_names_the_reason_and_changes_nothing(
    create_task_url, broker, database_url, type_, data, status, field
):
    response = post_binary(f"{create_task_url}/commands", command(type_, data))

    assert response.status_code == status
    error = response.json()["error"]
    assert error["reason"]
    if field:
        assert error["field"] == field
    assert tasks(database_url) == 0
    assert broker.received == []


def test_an_operation_the_task_state_forbids_is_a_conflict(create_task_url):
    task = invoke(create_task_url, catalogue.CREATE_TASK, {"user_id": "alice", "title": "once"})

    response = post_binary(
        f"{create_task_url}/commands",
        command(catalogue.SKIP_OCCURRENCE, {"user_id": "alice", "task_id": task["id"]}),
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_operation"


def test_another_users_task_is_not_found(create_task_url):
    task = invoke(create_task_url, catalogue.CREATE_TASK, {"user_id": "alice", "title": "mine"})

    response = post_binary(
        f"{create_task_url}/commands",
        command(catalogue.DELETE_TASK, {"user_id": "mallory", "task_id": task["id"]}),
    )

    assert response.status_code == 404


def test_malformed_commands_are_rejected_with_a_reason(create_task_url, database_url):
    bad = command(catalogue.CREATE_TASK, {"user_id": "alice", "title": "x"})
    bad.data["colour"] = "red"
    response = post_structured(f"{create_task_url}/commands", bad)
    assert response.status_code == 400
    assert "colour" in response.json()["error"]["reason"]

    not_a_command = post_binary(
        create_task_url,
        catalogue.new_event(
            catalogue.REMINDER_DUE,
            {
                "task_id": 1,
                "reminder_id": "r",
                "title": "t",
                "due_at": None,
                "remind_at": datetime.now(UTC).isoformat(),
                "user_id": "alice",
            },
            user_id="alice",
            source=BROKER_SOURCE,
        ),
    )
    assert not_a_command.status_code == 400
    assert not_a_command.json()["error"]["field"] == "type"
    assert requests.post(f"{create_task_url}/commands", data=b"[]", timeout=10).status_code == 400
    assert tasks(database_url) == 0


def test_completing_a_recurring_task_spawns_the_next_occurrence_exactly_once(
    start_function, stateless_env, create_task_url, broker, database_url
):
    """The whole recurrence path: create-task -> task.completed -> spawn-recurrence -> its
    reply delivered (twice) to create-task's broker route -> one new occurrence."""
    spawn_url = start_function("spawn_recurrence", stateless_env)
    due = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    first = invoke(
        create_task_url,
        catalogue.CREATE_TASK,
        {
            "user_id": "alice",
            "title": "stand-up",
            "due": due,
            "recurrence": {"rule": "FREQ=DAILY", "mode": "due"},
        },
    )
    invoke(create_task_url, catalogue.COMPLETE_TASK, {"user_id": "alice", "task_id": first["id"]})
    wait_until(
        lambda: broker.events(catalogue.TASK_COMPLETED, catalogue.TOPIC_TASK_EVENTS),
        what="task.completed",
    )
    (completed,) = broker.events(catalogue.TASK_COMPLETED, catalogue.TOPIC_TASK_EVENTS)

    spawn = reply_event(post_binary(spawn_url, completed))
    for _ in range(2):
        response = post_binary(create_task_url, spawn)
        assert response.status_code == 202
        assert response.content == b""

    assert tasks(database_url) == 2
    wait_until(
        lambda: len(broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)) == 2,
        what="the next occurrence's task.created",
    )
    occurrence = broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)[1].data
    assert occurrence["spawned_from"] == first["id"]
    assert occurrence["task_data"]["recurrence"]["occurrence"] == 2
    assert occurrence["task_data"]["due_at"] > first["due_at"]


def test_a_refused_command_from_the_broker_is_not_retried(create_task_url, database_url):
    """A non-retryable 422 sends it to the dead-letter sink; 404 would make the broker retry."""
    spawn = command(
        catalogue.SPAWN_OCCURRENCE,
        {"user_id": "alice", "task_id": 999, "completed_at": datetime.now(UTC).isoformat()},
    )

    response = post_binary(create_task_url, spawn)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_found"
    assert tasks(database_url) == 0


def test_the_relay_route_publishes_what_is_pending(create_task_url, broker, database_url):
    """A write whose relay never ran (a crash after commit) is published by POST /relay."""
    task = run_command(database_url, commands.CreateTask(user_id="alice", title="stranded"))

    relay = requests.post(f"{create_task_url}/relay", timeout=10)

    assert (relay.status_code, relay.content) == (202, b"")
    wait_until(
        lambda: broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_UPDATES),
        what="the stranded task.created",
    )
    (created,) = broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_UPDATES)
    assert created.data["task_id"] == task["id"]


def test_events_left_pending_by_a_crash_are_published_when_create_task_starts(
    start_function, function_env, broker, database_url
):
    task = run_command(database_url, commands.CreateTask(user_id="alice", title="before crash"))

    start_function("create_task", function_env)

    # No request: the worker relays what is pending as soon as it starts.
    wait_until(
        lambda: broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS),
        what="the pending task.created",
    )
    (created,) = broker.events(catalogue.TASK_CREATED, catalogue.TOPIC_TASK_EVENTS)
    assert created.data["task_id"] == task["id"]
