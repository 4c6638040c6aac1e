"""write-audit through real HTTP: one audit entry per task event with who, when and what changed,
and never a second entry for a redelivered event."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from database_state import audit_history, count_rows, outbox_events, run_command
from function_events import post_binary, post_structured
from sender_keys import headers_for
from taskflow import catalogue
from taskflow.adapters import orm
from taskflow.domain import commands


@pytest.fixture
def audit_url(start_function, function_env) -> str:
    return start_function("write_audit", function_env)


def task_lifecycle(database_url: str) -> list:
    """Create, rename, complete and delete a task the way create-task does; its task events."""
    task = run_command(database_url, commands.CreateTask(user_id="alice", title="draft"))
    run_command(
        database_url,
        commands.UpdateTask(user_id="alice", task_id=task["id"], changes={"title": "final"}),
    )
    run_command(database_url, commands.CompleteTask(user_id="alice", task_id=task["id"]))
    run_command(database_url, commands.DeleteTask(user_id="alice", task_id=task["id"]))
    return outbox_events(database_url, catalogue.TOPIC_TASK_EVENTS)


def test_every_operation_is_recorded_with_before_and_after(audit_url, database_url):
    created, updated, completed, deleted = task_lifecycle(database_url)

    for event, post in zip(
        (created, updated, completed, deleted),
        (post_binary, post_structured, post_binary, post_binary),
        strict=True,
    ):
        response = post(audit_url, event)
        assert response.status_code == 202
        assert response.content == b""

    history = audit_history(database_url, "alice", created.data["task_id"])
    assert [entry.operation for entry in history] == ["created", "updated", "completed", "deleted"]
    assert {entry.actor for entry in history} == {"alice"}
    assert [entry.event_id for entry in history] == [
        e["id"] for e in (created, updated, completed, deleted)
    ]
    first, rename, completion, deletion = history
    assert first.before is None
    assert first.after["title"] == "draft"
    assert (rename.before, rename.after) == ({"title": "draft"}, {"title": "final"})
    assert completion.before == {"completed": False, "completed_at": None}
    assert completion.after["completed"] is True
    assert completion.after["completed_at"] == completed.data["task_data"]["completed_at"]
    assert deletion.before["title"] == "final"
    assert deletion.after is None


def test_a_next_occurrence_taken_back_with_its_completion_says_why(audit_url, database_url):
    """Undo of a repeating task's completion deletes the next occurrence: its history entry
    says TaskFlow did it, and why, so the activity panel does not show a delete the user never
    made."""
    task = run_command(
        database_url,
        commands.CreateTask(
            user_id="alice", title="stand-up", due="2030-05-06", recurrence={"rule": "FREQ=DAILY"}
        ),
    )
    run_command(database_url, commands.CompleteTask(user_id="alice", task_id=task["id"]))
    (completed,) = outbox_events(database_url, catalogue.TOPIC_TASK_EVENTS)[1:]
    following = run_command(
        database_url,
        commands.SpawnNextOccurrence(
            user_id="alice",
            task_id=task["id"],
            completed_at=completed.data["task_data"]["completed_at"],
            task_data=completed.data["task_data"],
        ),
    )
    run_command(database_url, commands.UncompleteTask(user_id="alice", task_id=task["id"]))
    (withdrawn,) = [
        event
        for event in outbox_events(database_url, catalogue.TOPIC_TASK_EVENTS)
        if event["type"] == catalogue.TASK_DELETED
    ]

    assert post_binary(audit_url, withdrawn).status_code == 202

    (entry,) = audit_history(database_url, "alice", following["id"])
    assert entry.operation == "deleted"
    assert entry.before["recurrence"]["occurrence"] == 2
    assert entry.after == {"reason": f"its completion of task #{task['id']} was undone"}


def test_a_redelivered_event_adds_no_second_entry(audit_url, database_url):
    created = task_lifecycle(database_url)[0]

    for _ in range(3):
        assert post_binary(audit_url, created).status_code == 202
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: post_binary(audit_url, created), range(4)))

    assert [answer.status_code for answer in answers] == [202] * 4
    assert count_rows(database_url, orm.audit_log) == 1


def test_a_malformed_event_is_rejected_and_records_nothing(audit_url, database_url):
    created = task_lifecycle(database_url)[0]
    del created.data["task_data"]["title"]

    response = post_binary(audit_url, created)
    not_an_event = requests.post(audit_url, data=b"{}", headers=headers_for(audit_url), timeout=10)

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "data.task_data"
    assert "title" in response.json()["error"]["reason"]
    assert not_an_event.status_code == 400
    assert count_rows(database_url, orm.audit_log) == 0


def test_an_event_with_a_timestamp_without_zone_is_rejected(audit_url, database_url):
    created = task_lifecycle(database_url)[0]
    created.data["timestamp"] = "2026-03-29T01:30:00"

    response = post_binary(audit_url, created)

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "data.timestamp"
    assert count_rows(database_url, orm.audit_log) == 0
