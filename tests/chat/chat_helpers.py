"""Talking to POST /api/{user_id}/chat in tests."""

from __future__ import annotations

from typing import Any

from api_helpers import Account
from flask.testing import FlaskClient


def chat_url(account: Account) -> str:
    return f"/api/{account.user_id}/chat"


def say(
    client: FlaskClient, account: Account, message: str, conversation_id: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    response = client.post(chat_url(account), json=body, headers=account.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def tasks_of(client: FlaskClient, account: Account, **params: str) -> list[dict[str, Any]]:
    response = client.get(account.tasks_url, query_string=params, headers=account.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def titles(tasks: list[dict[str, Any]]) -> list[str]:
    return sorted(task["title"] for task in tasks)
