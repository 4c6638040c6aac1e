"""POST /api/{user_id}/chat: the request and answer shapes, authentication, bad input, and
conversations that live in the database rather than in the server."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from api_helpers import Account
from chat_helpers import chat_url, say
from flask.testing import FlaskClient
from taskflow.adapters import orm
from taskflow.config import Settings
from taskflow.entrypoints.api import create_app


def test_answer_shape_and_a_new_conversation(client: FlaskClient, alice: Account) -> None:
    answer = say(client, alice, "Add a task to buy bread")
    assert set(answer) == {"conversation_id", "response", "tool_calls"}
    assert isinstance(answer["conversation_id"], int)
    (call,) = answer["tool_calls"]
    assert set(call) == {"name", "arguments", "result"}
    assert call["arguments"]["title"] == "buy bread"
    assert say(client, alice, "help")["conversation_id"] != answer["conversation_id"]


def test_conversation_is_stored_and_resumes_after_a_restart(
    client: FlaskClient, alice: Account, settings: Settings
) -> None:
    first = say(client, alice, "Add a task to call the plumber")
    conversation_id = first["conversation_id"]
    # A new app instance holds nothing in memory: the conversation must come from the database.
    restarted = create_app(settings)
    try:
        again = say(restarted.test_client(), alice, "What's pending?", conversation_id)
    finally:
        restarted.extensions["taskflow"].engine.dispose()
    assert again["conversation_id"] == conversation_id
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(orm.messages.c.role, orm.messages.c.content, orm.messages.c.tool_calls)
                .where(orm.messages.c.conversation_id == conversation_id)
                .order_by(orm.messages.c.id)
            ).all()
    finally:
        engine.dispose()
    assert [(row.role, row.content) for row in rows] == [
        ("user", "Add a task to call the plumber"),
        ("assistant", first["response"]),
        ("user", "What's pending?"),
        ("assistant", again["response"]),
    ]
    assert rows[1].tool_calls == first["tool_calls"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"message": "   "}, 400, "message"),
        ({}, 400, "message"),
        ({"message": 42}, 400, "message"),
        ({"message": "x" * 4001}, 413, "message"),
        ({"message": "hi", "conversation_id": "7"}, 422, "conversation_id"),
        ({"message": "hi", "conversation_id": True}, 422, "conversation_id"),
        ({"message": "hi", "mood": "happy"}, 422, "mood"),
        (["message"], 422, "body"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    client: FlaskClient, alice: Account, body: object, status: int, field: str
) -> None:
    response = client.post(chat_url(alice), json=body, headers=alice.headers)
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field
    listing = client.get(alice.tasks_url, headers=alice.headers).get_json()
    assert listing["total"] == 0


def test_authentication_like_the_rest_api(
    client: FlaskClient, alice: Account, bob: Account
) -> None:
    body = {"message": "Show me all my tasks"}
    assert client.post(chat_url(alice), json=body).status_code == 401
    forged = {"Authorization": "Bearer not.a.token"}
    assert client.post(chat_url(alice), json=body, headers=forged).status_code == 401
    assert client.post(chat_url(alice), json=body, headers=bob.headers).status_code == 403


def test_another_users_conversation_is_not_found(
    client: FlaskClient, alice: Account, bob: Account
) -> None:
    conversation_id = say(client, alice, "Add a task to plan the trip")["conversation_id"]
    response = client.post(
        chat_url(bob),
        json={"message": "Show me all my tasks", "conversation_id": conversation_id},
        headers=bob.headers,
    )
    assert response.status_code == 404
    missing = client.post(
        chat_url(alice),
        json={"message": "hi", "conversation_id": 987654321},
        headers=alice.headers,
    )
    assert missing.status_code == 404


def test_page_config_names_the_live_sync_server(client: FlaskClient) -> None:
    config = client.get("/config.json").get_json()
    assert config["socket_port"] > 0


def test_a_stored_conversation_can_be_read_back(
    client: FlaskClient, alice: Account, bob: Account
) -> None:
    first = say(client, alice, "Add a task to plan the trip")
    second = say(client, alice, "What's pending?", first["conversation_id"])
    url = f"{chat_url(alice)}/{first['conversation_id']}"
    response = client.get(url, headers=alice.headers)
    assert response.status_code == 200
    messages = response.get_json()["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "Add a task to plan the trip"),
        ("assistant", first["response"]),
        ("user", "What's pending?"),
        ("assistant", second["response"]),
    ]
    assert messages[1]["tool_calls"] == first["tool_calls"]
    assert client.get(url, headers=bob.headers).status_code == 403
    bobs_view = f"{chat_url(bob)}/{first['conversation_id']}"
    assert client.get(bobs_view, headers=bob.headers).status_code == 404
    assert client.get(f"{chat_url(alice)}/abc", headers=alice.headers).status_code == 404
