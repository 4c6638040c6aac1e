"""Sign-up, login and the caller's settings, as a client of the API sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
import sqlalchemy as sa
from api_helpers import PASSWORD, sign_up
from argon2 import PasswordHasher
from taskflow.adapters import orm, tokens
from taskflow.adapters.database import make_engine
from taskflow_dev.local.launch import free_port


@pytest.fixture(scope="module")
def create_task_url() -> str:
    """Accounts never write tasks: no create-task process is needed."""
    return f"http://127.0.0.1:{free_port()}"


def test_signup_gives_a_token_that_opens_the_account(client):
    response = client.post(
        "/api/auth/signup",
        json={"email": "  Ann@Example.org ", "password": PASSWORD, "timezone": "Asia/Tokyo"},
    )
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["email"] == "ann@example.org"
    assert answer["timezone"] == "Asia/Tokyo"
    me = client.get("/api/me", headers={"Authorization": f"Bearer {answer['token']}"})
    assert me.status_code == 200
    assert me.get_json() == {
        "user_id": answer["user_id"],
        "email": "ann@example.org",
        "timezone": "Asia/Tokyo",
        "webhook_url": None,
    }


def test_signup_without_timezone_uses_utc(client):
    account = sign_up(client)
    me = client.get("/api/me", headers=account.headers).get_json()
    assert me["timezone"] == "UTC"


def test_login_with_the_right_password_gives_a_working_token(client):
    account = sign_up(client)
    response = client.post(
        "/api/auth/login", json={"email": account.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["user_id"] == account.user_id
    me = client.get("/api/me", headers={"Authorization": f"Bearer {answer['token']}"})
    assert me.get_json()["user_id"] == account.user_id


@pytest.mark.parametrize("who", ["wrong password", "unknown email"])
def test_failed_login_does_not_say_which_part_was_wrong(client, who):
    account = sign_up(client)
    email = account.email if who == "wrong password" else "nobody-" + account.email
    password = "not the password" if who == "wrong password" else PASSWORD
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 401
    assert response.get_json() == {"error": {"reason": "invalid email or password"}}


def test_duplicate_email_is_refused_whatever_its_case(client):
    account = sign_up(client)
    response = client.post(
        "/api/auth/signup", json={"email": account.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["field"] == "email"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "no-at-sign.example.org", "password": PASSWORD}, "email"),
        ({"email": "ann@example.org", "password": "short"}, "password"),
        (
            {"email": "ann@example.org", "password": PASSWORD, "timezone": "Mars/Olympus"},
            "timezone",
        ),
        ({"email": "ann@example.org"}, "password"),
        ({"email": 42, "password": PASSWORD}, "email"),
        ({"email": "ann@example.org", "password": PASSWORD, "admin": True}, "admin"),
    ],
)
def test_bad_signup_names_the_field_and_creates_no_account(client, settings, body, field):
    before = _user_count(settings.database_url)
    response = client.post("/api/auth/signup", json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field
    assert _user_count(settings.database_url) == before


def test_signup_body_that_is_not_json_is_a_400(client):
    response = client.post(
        "/api/auth/signup", data="email=a@b.org", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "body"


def test_password_is_stored_only_as_an_argon2_hash(client, settings):
    account = sign_up(client)
    stored = _stored_hash(settings.database_url, account.user_id)
    assert PASSWORD not in stored
    assert stored.startswith("$argon2id$")


def test_a_weak_stored_hash_is_upgraded_at_login(client, settings):
    account = sign_up(client)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    engine = make_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.update(orm.users).where(orm.users.c.id == account.user_id).values(password_hash=weak)
        )
    engine.dispose()
    login = client.post("/api/auth/login", json={"email": account.email, "password": PASSWORD})
    assert login.status_code == 200
    upgraded = _stored_hash(settings.database_url, account.user_id)
    assert upgraded != weak
    assert not PasswordHasher().check_needs_rehash(upgraded)


def test_timezone_and_webhook_can_be_changed(client):
    account = sign_up(client)
    response = client.patch(
        "/api/me",
        json={"timezone": "America/New_York", "webhook_url": "https://hooks.example.org/t"},
        headers=account.headers,
    )
    assert response.status_code == 200
    me = client.get("/api/me", headers=account.headers).get_json()
    assert me["timezone"] == "America/New_York"
    assert me["webhook_url"] == "https://hooks.example.org/t"
    cleared = client.patch("/api/me", json={"webhook_url": None}, headers=account.headers)
    assert cleared.get_json()["webhook_url"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Nowhere/Special"}, "timezone"),
        ({"webhook_url": "ftp://files.example.org"}, "webhook_url"),
        ({"webhook_url": "javascript:alert(1)"}, "webhook_url"),
        ({"email": "new@example.org"}, "email"),
    ],
)
def test_bad_settings_name_the_field_and_change_nothing(client, body, field):
    account = sign_up(client, timezone="Europe/Paris")
    response = client.patch("/api/me", json=body, headers=account.headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field
    me = client.get("/api/me", headers=account.headers).get_json()
    assert (me["timezone"], me["webhook_url"]) == ("Europe/Paris", None)


def test_a_better_auth_token_with_the_same_secret_is_accepted_without_an_account(client, settings):
    # Better Auth's JWT plugin signs with the shared secret and puts the user id in `sub`.
    now = datetime.now(UTC)
    token = jwt.encode(
        {"sub": "better-auth-user-7", "iat": now, "exp": now + timedelta(hours=1)},
        settings.jwt_secret,
        algorithm="HS256",
    )
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/me", headers=headers)
    assert me.status_code == 200
    assert me.get_json() == {
        "user_id": "better-auth-user-7",
        "email": None,
        "timezone": "UTC",
        "webhook_url": None,
    }
    listed = client.get("/api/better-auth-user-7/tasks", headers=headers)
    assert listed.status_code == 200
    # No row here to hold settings: say so rather than pretend.
    settings_change = client.patch("/api/me", json={"timezone": "Asia/Tokyo"}, headers=headers)
    assert settings_change.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "expired",
        "wrong secret",
    ],
)
def test_me_without_a_valid_token_is_401_with_a_challenge(client, settings, authorization):
    account = sign_up(client)
    if authorization == "expired":
        token = tokens.issue(
            account.user_id, secret=settings.jwt_secret, issuer="taskflow", ttl_seconds=-60
        )
        authorization = f"Bearer {token}"
    elif authorization == "wrong secret":
        token = tokens.issue(
            account.user_id,
            secret="another-secret-of-at-least-32-bytes",
            issuer="taskflow",
            ttl_seconds=60,
        )
        authorization = f"Bearer {token}"
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "reason" in response.get_json()["error"]


def _user_count(database_url: str) -> int:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(orm.users)).scalar_one()
    engine.dispose()
    return count


def _stored_hash(database_url: str, user_id: str) -> str:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        stored = connection.execute(
            sa.select(orm.users.c.password_hash).where(orm.users.c.id == user_id)
        ).scalar_one()
    engine.dispose()
    return stored
