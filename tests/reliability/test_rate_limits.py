"""Per-user rate limits: past the limit a user gets 429 with Retry-After and a body saying when
to retry, other users are unaffected, and the user is admitted again once the time has passed.
The limiter's clock is driven by the test, never by sleeping."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from taskflow.adapters import rate_limit
from taskflow.config import RateLimit, load_settings
from taskflow.entrypoints.api import create_app
from taskflow.entrypoints.app_services import install, services

API_LIMIT = RateLimit(5, 60)  # a token every 12 s; a chat turn spends one too
CHAT_LIMIT = RateLimit(2, 60)  # a token every 30 s


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(tmp_path: Path, sqlite_url: str, clock: Clock) -> Iterator[FlaskClient]:
    settings = dataclasses.replace(
        load_settings(), data_dir=tmp_path, database_url=sqlite_url, openai_api_key=""
    )
    app = create_app(settings)
    with app.app_context():
        limiter = rate_limit.RateLimiter(
            {rate_limit.API: API_LIMIT, rate_limit.CHAT: CHAT_LIMIT}, clock=clock
        )
        install(app, dataclasses.replace(services(), rate_limiter=limiter))
        engine = services().engine
    yield app.test_client()
    engine.dispose()


def sign_up(client: FlaskClient) -> tuple[str, dict[str, str]]:
    email = f"limited-{uuid.uuid4().hex[:8]}@example.org"
    answer = client.post("/api/auth/signup", json={"email": email, "password": "long enough pw"})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    return body["user_id"], {"Authorization": f"Bearer {body['token']}"}


def test_past_the_api_limit_a_user_gets_429_until_the_window_refills(client, clock):
    alice, alice_auth = sign_up(client)
    bob, bob_auth = sign_up(client)
    for _ in range(API_LIMIT.requests):
        assert client.get(f"/api/{alice}/tasks", headers=alice_auth).status_code == 200

    refused = client.get(f"/api/{alice}/tasks", headers=alice_auth)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "12"
    error = refused.get_json()["error"]
    assert error["retry_after_seconds"] == 12
    assert "retry after 12 s" in error["reason"]
    # A write is refused the same way, before anything is sent to create-task.
    assert (
        client.post(f"/api/{alice}/tasks", json={"title": "x"}, headers=alice_auth).status_code
        == 429
    )

    assert client.get(f"/api/{bob}/tasks", headers=bob_auth).status_code == 200

    clock.now += 11
    assert client.get(f"/api/{alice}/tasks", headers=alice_auth).status_code == 429
    clock.now += 1
    assert client.get(f"/api/{alice}/tasks", headers=alice_auth).status_code == 200
    assert client.get(f"/api/{alice}/tasks", headers=alice_auth).status_code == 429


def test_the_chat_is_limited_more_strictly_than_the_api(client, clock):
    alice, alice_auth = sign_up(client)
    bob, bob_auth = sign_up(client)
    url = f"/api/{alice}/chat"
    for _ in range(CHAT_LIMIT.requests):
        assert client.post(url, json={"message": "help"}, headers=alice_auth).status_code == 200

    refused = client.post(url, json={"message": "help"}, headers=alice_auth)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert refused.get_json()["error"]["retry_after_seconds"] == 30
    assert "chat" in refused.get_json()["error"]["reason"]
    # The refused turn stored nothing, and the rest of the API still answers.
    assert client.get(f"/api/{alice}/tasks", headers=alice_auth).status_code == 200
    assert (
        client.post(f"/api/{bob}/chat", json={"message": "help"}, headers=bob_auth).status_code
        == 200
    )

    clock.now += 30
    assert client.post(url, json={"message": "help"}, headers=alice_auth).status_code == 200


def test_requests_without_a_valid_token_do_not_spend_anyones_limit(client):
    alice, alice_auth = sign_up(client)
    for _ in range(API_LIMIT.requests * 2):
        assert client.get(f"/api/{alice}/tasks").status_code == 401
        assert (
            client.get(f"/api/{alice}/tasks", headers={"Authorization": "Bearer x"}).status_code
            == 401
        )
    assert client.get(f"/api/{alice}/tasks", headers=alice_auth).status_code == 200


def test_a_rate_limit_setting_is_requests_per_seconds():
    assert RateLimit.parse("600/60") == RateLimit(600, 60.0)
    for bad in ("600", "0/60", "10/0", "ten/60", "1/2/3"):
        with pytest.raises(ValueError, match="REQUESTS/SECONDS"):
            RateLimit.parse(bad)
