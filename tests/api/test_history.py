"""A task's history through the API: the events create-task published reach write-audit (a real
process; the test plays the broker and delivers them), and GET .../history shows the trail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from api_helpers import Account, create, function_fixtures
from cloudevents.conversion import to_binary
from sender_keys import headers_for
from taskflow import catalogue
from taskflow_dev.local.launch import wait_until


@pytest.fixture(scope="module")
def write_audit_url(
    api_database_url: str, broker, settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log_dir: Path = tmp_path_factory.mktemp("write-audit")
    processes = function_fixtures.FunctionProcesses(log_dir)
    env = {
        "DATABASE_URL": api_database_url,
        "BROKER_URL": broker.url,
        "JWT_SECRET": settings.jwt_secret,
        "TASKFLOW_DATA_DIR": str(log_dir),
    }
    try:
        yield processes("write_audit", env)
    finally:
        processes.stop_all()


def _task_events(broker, task: dict) -> list:
    """What the broker got on task-events about `task`, in the order it happened. The user is
    part of the key: the module's broker also holds the other backing's run, whose task ids
    are the same numbers."""
    events = [
        event
        for type_ in catalogue.TASK_EVENT_TYPES
        for event in broker.events(type_, catalogue.TOPIC_TASK_EVENTS)
        if (event.data.get("task_id"), event.data.get("user_id")) == (task["id"], task["user_id"])
    ]
    return sorted(events, key=lambda event: event["time"])


def _deliver_to_write_audit(broker, write_audit_url: str, task: dict, count: int) -> None:
    """Wait for `count` events of the task, then deliver each twice, as a Trigger that retries
    would (binary mode): the history must still hold each change once."""
    wait_until(
        lambda: len(_task_events(broker, task)) >= count,
        what=f"create-task to publish {count} events of task {task['id']}",
    )
    for event in _task_events(broker, task) * 2:
        headers, body = to_binary(event)
        headers |= headers_for(write_audit_url)
        response = requests.post(write_audit_url, data=body, headers=headers, timeout=10)
        assert response.status_code in (200, 202), response.text


def _history(client, account: Account, task_id: int):
    return client.get(account.task_url(task_id, "history"), headers=account.headers)


def test_history_shows_every_change_with_before_and_after(client, alice, broker, write_audit_url):
    task = create(client, alice, title="draft", priority="low")
    client.put(alice.task_url(task["id"]), json={"title": "final"}, headers=alice.headers)
    client.patch(alice.task_url(task["id"], "complete"), headers=alice.headers)
    _deliver_to_write_audit(broker, write_audit_url, task, count=3)
    response = _history(client, alice, task["id"])
    assert response.status_code == 200
    entries = response.get_json()["items"]
    assert [entry["operation"] for entry in entries] == ["created", "updated", "completed"]
    updated = entries[1]
    assert updated["before"]["title"] == "draft"
    assert updated["after"]["title"] == "final"
    assert all(entry["actor"] for entry in entries)


def test_history_survives_the_delete_of_its_task(client, alice, broker, write_audit_url):
    task = create(client, alice, title="to be deleted")
    client.delete(alice.task_url(task["id"]), headers=alice.headers)
    _deliver_to_write_audit(broker, write_audit_url, task, count=2)
    entries = _history(client, alice, task["id"]).get_json()["items"]
    assert [entry["operation"] for entry in entries] == ["created", "deleted"]


def test_history_of_a_task_nobody_has_is_404(client, alice):
    assert _history(client, alice, 987_654_321).status_code == 404


def _audit(client, account: Account, **params):
    return client.get(f"/api/{account.user_id}/audit", query_string=params, headers=account.headers)


def test_the_user_wide_activity_log_is_newest_first_and_filters(client, broker, write_audit_url):
    from api_helpers import sign_up

    carol, dave = sign_up(client), sign_up(client)
    kept = create(client, carol, title="kept")
    gone = create(client, carol, title="gone")
    client.patch(carol.task_url(kept["id"], "complete"), headers=carol.headers)
    client.delete(carol.task_url(gone["id"]), headers=carol.headers)
    create(client, dave, title="dave's own")
    _deliver_to_write_audit(broker, write_audit_url, kept, count=2)
    _deliver_to_write_audit(broker, write_audit_url, gone, count=2)

    everything = _audit(client, carol)
    assert everything.status_code == 200
    items = everything.get_json()["items"]
    assert len(items) == 4  # dave's task is not carol's activity
    moments = [item["at"] for item in items]
    assert moments == sorted(moments, reverse=True)
    assert {(item["title"], item["operation"]) for item in items} == {
        ("kept", "created"),
        ("kept", "completed"),
        ("gone", "created"),
        ("gone", "deleted"),
    }
    deletions = _audit(client, carol, operation="deleted").get_json()["items"]
    assert [(item["task_id"], item["title"]) for item in deletions] == [(gone["id"], "gone")]
    one_task = _audit(client, carol, task_id=str(kept["id"])).get_json()["items"]
    assert {item["operation"] for item in one_task} == {"created", "completed"}
    first_page = _audit(client, carol, limit="3").get_json()
    assert len(first_page["items"]) == 3 and first_page["has_more"] is True
    assert _audit(client, carol, until="2000-01-01T00:00:00Z").get_json()["items"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"operation": "exploded"}, "operation"),
        ({"task_id": "x"}, "task_id"),
        ({"since": "yesterday"}, "since"),
        ({"limit": "1000"}, "limit"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_activity_filter_is_422_naming_it(client, alice, params, field):
    response = _audit(client, alice, **params)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field


def test_tags_with_counts(client):
    from api_helpers import sign_up

    erin = sign_up(client)
    create(client, erin, title="a", tags=["home", "garden"])
    create(client, erin, title="b", tags=["home"])
    done = create(client, erin, title="c", tags=["work"])
    client.patch(erin.task_url(done["id"], "complete"), headers=erin.headers)
    url = f"/api/{erin.user_id}/tags"
    pending = client.get(url, headers=erin.headers).get_json()["items"]
    assert pending == [{"tag": "home", "count": 2}, {"tag": "garden", "count": 1}]
    everything = client.get(url, query_string={"status": "all"}, headers=erin.headers)
    assert {item["tag"] for item in everything.get_json()["items"]} == {"home", "garden", "work"}
    bad = client.get(url, query_string={"status": "maybe"}, headers=erin.headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "status"
