"""Secrets through Dapr: the apps get the database URL and the JWT secret from the local secret
store through their sidecars; no app has them in its environment."""

from __future__ import annotations

import pytest
import requests
import socketio
import sqlalchemy as sa
from dapr_stack import Stack

pytestmark = pytest.mark.dapr


def test_the_apps_use_the_database_the_secret_store_names(
    stack: Stack, signed_up: tuple[str, dict[str, str]], product_database_url: str
) -> None:
    user_id, auth = signed_up

    created = requests.post(
        f"{stack.api_url}/api/{user_id}/tasks", json={"title": "pay rent"}, headers=auth, timeout=30
    )

    assert created.status_code == 201, created.text
    engine = sa.create_engine(product_database_url)
    try:
        with engine.connect() as connection:
            titles = connection.execute(
                sa.text("SELECT title FROM tasks WHERE user_id = :user"), {"user": user_id}
            ).scalars()
            assert list(titles) == ["pay rent"]
    finally:
        engine.dispose()
    # Without its secrets an app would fall back to SQLite in the data folder.
    assert not (stack.data_dir / "taskflow.db").exists()
    assert all("DATABASE_URL" not in app.app_env for app in stack.apps)


def test_a_token_signed_by_the_web_app_is_accepted_by_a_function(
    stack: Stack, signed_up: tuple[str, dict[str, str]]
) -> None:
    """broadcast-update checks Socket.IO tokens with JWT_SECRET, which it too reads through Dapr:
    a token the web app signed is only accepted if both read the same secret."""
    _, auth = signed_up
    client = socketio.Client(reconnection=False)
    try:
        client.connect(
            stack.functions["broadcast_update"].app_url,
            auth={"token": auth["Authorization"].removeprefix("Bearer ")},
            transports=["websocket"],
            wait_timeout=20,
        )
        assert client.connected
    finally:
        client.disconnect()
