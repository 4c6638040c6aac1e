"""Rate limits: past the limit a user (or, at sign-up and login, an email or a client address)
gets 429 with Retry-After and a body saying when to retry, other users and clients are
unaffected, and the caller is admitted again once the time has passed. The limiter's clock is
driven by the test, never by sleeping."""

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
from werkzeug.test import TestResponse

API_LIMIT = RateLimit(5, 60)  # a token every 12 s; a chat turn spends one too
CHAT_LIMIT = RateLimit(2, 60)  # a token every 30 s
AUTH_EMAIL_LIMIT = RateLimit(3, 60)  # an attempt every 20 s per email
AUTH_CLIENT_LIMIT = RateLimit(8, 60)  # an attempt every 7.5 s per client address
PASSWORD = "long enough pw"


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
        load_settings(),
        data_dir=tmp_path,
        database_url=sqlite_url,
        openai_api_key="",
        jwt_secret="rate-limit-test-secret-of-at-least-32-bytes",
    )
    app = create_app(settings)
    with app.app_context():
        limiter = rate_limit.RateLimiter(
            {
                rate_limit.API: API_LIMIT,
                rate_limit.CHAT: CHAT_LIMIT,
                rate_limit.AUTH_EMAIL: AUTH_EMAIL_LIMIT,
                rate_limit.AUTH_CLIENT: AUTH_CLIENT_LIMIT,
            },
            clock=clock,
        )
        install(app, dataclasses.replace(services(), rate_limiter=limiter))
        engine = services().engine
    yield app.test_client()
    engine.dispose()


def new_email() -> str:
    return f"limited-{uuid.uuid4().hex[:8]}@example.org"


def sign_up(client: FlaskClient, email: str | None = None) -> tuple[str, dict[str, str]]:
    answer = client.post(
        "/api/auth/signup", json={"email": email or new_email(), "password": PASSWORD}
    )
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


def login(client: FlaskClient, email: str, password: str, address: str = "") -> TestResponse:
    """A login from the client `address` (as the trusted proxy in front reports it)."""
    headers = {"X-Forwarded-For": address} if address else {}
    return client.post(
        "/api/auth/login", json={"email": email, "password": password}, headers=headers
    )


def test_login_attempts_are_limited_per_email(client, clock):
    alice_email, bob_email = new_email(), new_email()
    sign_up(client, alice_email)
    sign_up(client, bob_email)  # each sign-up spent one attempt of its email
    for _ in range(AUTH_EMAIL_LIMIT.requests - 1):
        assert login(client, alice_email, "wrong password!").status_code == 401

    # Even the right password is refused now, from any client, and no password is checked.
    refused = login(client, alice_email.upper(), PASSWORD, address="198.51.100.7")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "20"
    error = refused.get_json()["error"]
    assert error["retry_after_seconds"] == 20
    assert "per email" in error["reason"] and "retry after 20 s" in error["reason"]

    assert login(client, bob_email, PASSWORD).status_code == 200

    clock.now += 20
    assert login(client, alice_email, PASSWORD).status_code == 200


def test_sign_up_and_login_are_limited_per_client_address(client, clock):
    mallory, carol = "203.0.113.9", "198.51.100.23"
    for _ in range(AUTH_CLIENT_LIMIT.requests):
        assert login(client, new_email(), "guessed password", address=mallory).status_code == 401

    refused = client.post(
        "/api/auth/signup",
        json={"email": new_email(), "password": PASSWORD},
        headers={"X-Forwarded-For": mallory},
    )
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "8"
    assert "per client" in refused.get_json()["error"]["reason"]
    # A client cannot pick a fresh bucket by writing its own X-Forwarded-For entry: only the
    # entry the trusted proxy appended (the rightmost) counts.
    spoofed = login(client, new_email(), "guessed password", address=f"192.0.2.1, {mallory}")
    assert spoofed.status_code == 429

    email = new_email()
    answer = client.post(
        "/api/auth/signup",
        json={"email": email, "password": PASSWORD},
        headers={"X-Forwarded-For": carol},
    )
    assert answer.status_code == 201
    assert login(client, email, PASSWORD, address=carol).status_code == 200

    clock.now += 8
    assert login(client, new_email(), "guessed password", address=mallory).status_code == 401
