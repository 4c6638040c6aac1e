"""Chat history through the Dapr state store: a conversation started before a restart of the
web app (and of its sidecar) goes on after it, and lives in the state store's PostgreSQL table,
not in the application's own tables."""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa
from dapr_stack import Stack
from taskflow_dev.local.dapr import WEB_APP_ID

pytestmark = pytest.mark.dapr


def chat(stack: Stack, user: tuple[str, dict[str, str]], body: dict) -> requests.Response:
    user_id, auth = user
    return requests.post(f"{stack.api_url}/api/{user_id}/chat", json=body, headers=auth, timeout=60)


def test_a_conversation_survives_a_restart_of_the_web_app(
    stack: Stack, signed_up: tuple[str, dict[str, str]], product_database_url: str
) -> None:
    user_id, auth = signed_up
    first = chat(stack, signed_up, {"message": "Add a task to buy groceries"})
    assert first.status_code == 200, first.text
    conversation_id = first.json()["conversation_id"]

    stack.web.restart()

    second = chat(
        stack, signed_up, {"conversation_id": conversation_id, "message": "Show me all my tasks"}
    )
    assert second.status_code == 200, second.text
    assert second.json()["conversation_id"] == conversation_id
    history = requests.get(
        f"{stack.api_url}/api/{user_id}/chat/{conversation_id}", headers=auth, timeout=30
    )
    assert history.status_code == 200, history.text
    messages = history.json()["messages"]
    assert [message["role"] for message in messages] == ["user", "assistant"] * 2
    assert messages[0]["content"] == "Add a task to buy groceries"
    assert messages[2]["content"] == "Show me all my tasks"
    assert "buy groceries" in messages[3]["content"]

    engine = sa.create_engine(product_database_url)
    try:
        with engine.connect() as connection:
            in_state_store = connection.execute(
                sa.text("SELECT count(*) FROM dapr_state WHERE key = :key"),
                {"key": f"{WEB_APP_ID}||conversation:{user_id}:{conversation_id}"},
            ).scalar_one()
            in_app_tables = connection.execute(
                sa.text("SELECT count(*) FROM conversations WHERE user_id = :user"),
                {"user": user_id},
            ).scalar_one()
    finally:
        engine.dispose()
    assert (in_state_store, in_app_tables) == (1, 0)


def test_another_user_cannot_read_the_conversation(
    stack: Stack, signed_up: tuple[str, dict[str, str]]
) -> None:
    started = chat(stack, signed_up, {"message": "Add a task to call mom"})
    assert started.status_code == 200, started.text
    conversation_id = started.json()["conversation_id"]
    other = requests.post(
        f"{stack.api_url}/api/auth/signup",
        json={"email": f"other-{conversation_id}@example.com", "password": "another-secret-1"},
        timeout=30,
    ).json()
    other_auth = {"Authorization": f"Bearer {other['token']}"}

    answer = requests.get(
        f"{stack.api_url}/api/{other['user_id']}/chat/{conversation_id}",
        headers=other_auth,
        timeout=30,
    )

    assert answer.status_code == 404
