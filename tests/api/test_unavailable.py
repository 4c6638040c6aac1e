"""When create-task or the database is down, the API says so with a 503 and Retry-After, and
nothing half-happens."""

from __future__ import annotations

import dataclasses

import pytest
from api_helpers import function_fixtures
from taskflow.adapters import tokens
from taskflow.entrypoints.api import create_app
from taskflow_dev.local.launch import free_port


@pytest.fixture(scope="module")
def create_task_url() -> str:
    """An address where nothing listens: create-task is down for this whole module."""
    return f"http://127.0.0.1:{free_port()}"


def test_a_write_while_create_task_is_down_is_503_and_reads_still_work(client, alice):
    response = client.post(alice.tasks_url, json={"title": "later"}, headers=alice.headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert "task service is unavailable" in response.get_json()["error"]["reason"]
    listed = client.get(alice.tasks_url, headers=alice.headers)
    assert listed.status_code == 200
    assert listed.get_json()["total"] == 0


def test_bad_input_is_still_422_while_create_task_is_down(client, alice):
    # The edge checks shape before anything is sent, so the client learns what to fix first.
    response = client.post(alice.tasks_url, json={"title": 5}, headers=alice.headers)
    assert response.status_code == 422


def test_database_down_is_503_with_retry_after(settings):
    dead_database = f"postgresql+pg8000://taskflow:secret@127.0.0.1:{free_port()}/taskflow"
    app = create_app(dataclasses.replace(settings, database_url=dead_database))
    client = app.test_client()
    token = tokens.issue("someone", secret=settings.jwt_secret, issuer="taskflow", ttl_seconds=60)
    headers = {"Authorization": f"Bearer {token}"}
    for response in (
        client.get("/api/someone/tasks", headers=headers),
        client.get("/api/me", headers=headers),
        client.post("/api/auth/login", json={"email": "a@b.org", "password": "12345678"}),
    ):
        assert response.status_code == 503
        assert response.get_json() == {"error": {"reason": "database unavailable, retry shortly"}}
        assert response.headers["Retry-After"].isdigit()
    assert client.get("/healthz").status_code == 200


def test_create_is_not_repeated_by_a_retry_after_create_task_comes_back(
    client, alice, settings, broker, api_database_url, tmp_path
):
    """A client retrying with its Idempotency-Key after a 503 gets exactly one task."""
    key = {"Idempotency-Key": "retry-after-outage"}
    failed = client.post(alice.tasks_url, json={"title": "once"}, headers=alice.headers | key)
    assert failed.status_code == 503
    processes = function_fixtures.FunctionProcesses(tmp_path)
    try:
        url = processes(
            "create_task",
            {
                "DATABASE_URL": api_database_url,
                "BROKER_URL": broker.url,
                "JWT_SECRET": settings.jwt_secret,
                "TASKFLOW_DATA_DIR": str(tmp_path),
            },
        )
        app = create_app(dataclasses.replace(settings, create_task_url=url))
        recovered = app.test_client()
        first = recovered.post(alice.tasks_url, json={"title": "once"}, headers=alice.headers | key)
        again = recovered.post(alice.tasks_url, json={"title": "once"}, headers=alice.headers | key)
        assert (first.status_code, again.status_code) == (201, 201)
        assert first.get_json()["id"] == again.get_json()["id"]
        listed = recovered.get(alice.tasks_url, headers=alice.headers).get_json()
        assert [task["title"] for task in listed["items"]] == ["once"]
    finally:
        processes.stop_all()


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "reason"),
    [
        (
            "post",
            "",
            {"title": "rent", "due": "2031-01-01", "reminders": [{"before_minutes": -5}]},
            "reminders.0.before_minutes",
            "less than the minimum of 0",
        ),
        (
            "post",
            "",
            {"title": "rent", "recurrence": {"rule": "FREQ=DAILY", "mode": "often"}},
            "recurrence.mode",
            "often",
        ),
        ("put", "/1", {"reminders": [{"before_minutes": -1}]}, "reminders.0.before_minutes", "0"),
        ("post", "/1/snooze", {"minutes": 0}, "minutes", "minimum of 1"),
    ],
)
def test_input_the_command_schema_refuses_is_422_naming_the_field_while_create_task_is_down(
    client, alice, method, path, body, field, reason
):
    """Input that passes the REST edge's type check but breaks the command's schema is the
    client's to fix: a 422 with the field and the reason, not a 503 inviting a retry that
    would fail the same way."""
    response = getattr(client, method)(alice.tasks_url + path, json=body, headers=alice.headers)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["field"] == field
    assert reason in error["reason"]
    assert "Retry-After" not in response.headers
