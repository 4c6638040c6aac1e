"""spawn-recurrence through real HTTP: a completed recurring task is answered with the command
that creates its next occurrence; anything else is acknowledged with an empty 202."""

from __future__ import annotations

import pytest
import requests
from function_events import (
    a_recurring_task,
    a_task,
    new_id,
    post_binary,
    post_structured,
    reply_event,
    task_event,
)
from sender_keys import headers_for
from taskflow import catalogue


@pytest.fixture
def spawn_url(start_function, stateless_env) -> str:
    return start_function("spawn_recurrence", stateless_env)


@pytest.mark.parametrize("post", [post_binary, post_structured])
def test_completed_recurring_task_is_answered_with_a_spawn_command(spawn_url, post):
    task = a_recurring_task("alice", 7)
    task.complete(now=task.created_at)
    completed = task_event(catalogue.TASK_COMPLETED, task)

    command = reply_event(post(spawn_url, completed))

    assert command["type"] == catalogue.SPAWN_OCCURRENCE
    assert command["id"] == f"spawn-{completed['id']}"
    assert command["partitionkey"] == "alice"
    assert command.data == {
        "user_id": "alice",
        "task_id": 7,
        "completed_at": task.to_dict()["completed_at"],
        # The occurrence as completed: create-task builds the next one from it, so deleting or
        # editing the completed task before this command arrives changes nothing.
        "task_data": completed.data["task_data"],
    }
    catalogue.validate(command["type"], command.data)


def test_a_redelivered_completion_yields_the_same_command_id(spawn_url):
    task = a_recurring_task("alice", 7)
    task.complete(now=task.created_at)
    completed = task_event(catalogue.TASK_COMPLETED, task)

    first = reply_event(post_binary(spawn_url, completed))
    second = reply_event(post_binary(spawn_url, completed))

    assert first["id"] == second["id"]
    assert first.data == second.data


def test_a_task_that_does_not_repeat_is_acknowledged_without_reply(spawn_url):
    task = a_task("alice", 8)
    task.complete(now=task.created_at)

    response = post_binary(spawn_url, task_event(catalogue.TASK_COMPLETED, task))

    assert response.status_code == 202
    assert response.content == b""


def test_malformed_events_are_rejected_with_a_reason(spawn_url):
    not_an_event = requests.post(
        spawn_url, json={"hello": "world"}, headers=headers_for(spawn_url), timeout=10
    )
    assert not_an_event.status_code == 400
    assert "not a CloudEvent" in not_an_event.json()["error"]["reason"]

    task = a_recurring_task("alice", 9)
    task.complete(now=task.created_at)
    event = task_event(catalogue.TASK_COMPLETED, task)
    del event.data["task_data"]
    missing_field = post_binary(spawn_url, event)
    assert missing_field.status_code == 400
    assert "task_data" in missing_field.json()["error"]["reason"]

    wrong_type = post_binary(spawn_url, task_event(catalogue.TASK_CREATED, task, event_id=new_id()))
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"]["field"] == "type"
