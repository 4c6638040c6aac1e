"""User isolation on every route: no token is 401, another user's path is 403, another user's
task id is 404 exactly like an id that does not exist, and nothing of the victim's changes."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import Account, create

# Every route under /api/<user_id>, with a body it would accept. `{task}` is a task id,
# `{conversation}` a chat conversation id.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/tasks", None),
    ("POST", "/tasks", {"title": "planted by someone else"}),
    ("GET", "/tasks/{task}", None),
    ("PUT", "/tasks/{task}", {"title": "changed by someone else"}),
    ("DELETE", "/tasks/{task}", None),
    ("PATCH", "/tasks/{task}/complete", None),
    ("GET", "/tasks/{task}/history", None),
    ("POST", "/tasks/{task}/skip", None),
    ("POST", "/tasks/{task}/stop-repeating", None),
    ("POST", "/tasks/{task}/snooze", {"minutes": 5}),
    ("POST", "/tasks/{task}/restore", None),
    ("GET", "/tags", None),
    ("GET", "/audit", None),
    ("POST", "/chat", {"message": "list my tasks"}),
    ("GET", "/chat/{conversation}", None),
]
TASK_ROUTES = [route for route in ROUTES if "{task}" in route[1]]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in ROUTES]


@pytest.fixture
def victims_task(client, alice: Account) -> dict[str, Any]:
    return create(
        client,
        alice,
        title="alice's secret",
        due="2030-01-07T09:00:00",
        recurrence={"rule": "FREQ=WEEKLY"},
        reminders=[{"before_minutes": 30}],
    )


def _call(client, method: str, url: str, body: dict[str, Any] | None, headers: dict[str, str]):
    return client.open(url, method=method, json=body, headers=headers)


def _url(owner: Account, path: str, task_id: int, conversation_id: int = 1) -> str:
    return f"/api/{owner.user_id}{path.format(task=task_id, conversation=conversation_id)}"


def _unchanged(client, alice: Account, task: dict[str, Any]) -> None:
    now = client.get(alice.task_url(task["id"]), headers=alice.headers)
    assert now.status_code == 200
    assert now.get_json() == task
    listed = client.get(alice.tasks_url, headers=alice.headers).get_json()
    assert [item["id"] for item in listed["items"]] == [task["id"]]


def test_every_user_route_is_covered_here(client):
    """A new route under /api/<user_id> must join ROUTES, so it is checked like the rest."""
    app_routes = {
        (
            method,
            rule.rule.removeprefix("/api/<user_id>")
            .replace("<task_id>", "{task}")
            .replace("<conversation_id>", "{conversation}"),
        )
        for rule in client.application.url_map.iter_rules()
        if rule.rule.startswith("/api/<user_id>")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert app_routes == {(method, path) for method, path, _ in ROUTES}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("authorization", [None, "Bearer forged.token.value"])
def test_without_a_valid_token_every_route_is_401(
    client, alice, victims_task, method, path, body, authorization
):
    headers = {"Authorization": authorization} if authorization else {}
    response = _call(client, method, _url(alice, path, victims_task["id"]), body, headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    _unchanged(client, alice, victims_task)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
def test_another_users_path_is_403_on_every_route(
    client, alice, bob, victims_task, method, path, body
):
    response = _call(client, method, _url(alice, path, victims_task["id"]), body, bob.headers)
    assert response.status_code == 403
    _unchanged(client, alice, victims_task)


@pytest.mark.parametrize(("method", "path", "body"), TASK_ROUTES)
def test_another_users_task_id_is_404_like_a_missing_one(
    client, alice, bob, victims_task, method, path, body
):
    stolen = _call(client, method, _url(bob, path, victims_task["id"]), body, bob.headers)
    missing = _call(client, method, _url(bob, path, 999_999_999), body, bob.headers)
    assert stolen.status_code == 404
    assert stolen.get_json() == missing.get_json()
    _unchanged(client, alice, victims_task)


def test_searching_never_finds_another_users_task(client, alice, bob, victims_task):
    found = client.get(bob.tasks_url, query_string={"q": "secret"}, headers=bob.headers)
    assert found.status_code == 200
    assert found.get_json()["total"] == 0


def test_me_without_a_token_is_401(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
