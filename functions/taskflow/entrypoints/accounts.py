"""Accounts: sign-up, login and the caller's own settings (timezone, reminder webhook).

Tokens are HS256 JWTs (adapters/tokens.py). A token minted elsewhere with the same secret (Better
Auth) is a valid caller even without a users row here; such a caller reads as timezone UTC and
cannot change settings, since there is no row to hold them.
"""

from __future__ import annotations

import re
import uuid
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import flask

from taskflow.adapters import passwords, rate_limit, tokens, webhook
from taskflow.adapters.repository import User, normalise_email
from taskflow.domain.errors import ValidationError
from taskflow.domain.inputs import parse_timezone
from taskflow.entrypoints.app_services import services
from taskflow.entrypoints.auth import current_user_id, require_user
from taskflow.entrypoints.client_address import client_address
from taskflow.entrypoints.http_errors import ApiError, invalid
from taskflow.entrypoints.request_body import json_body
from taskflow.service_layer import accounts

blueprint = flask.Blueprint("accounts", __name__)

EMAIL_MAX = 320
# Deliberately loose: one @, something on each side, a dot in the domain, no spaces. The only
# real check of an address is a mail that arrives; this one catches typos such as a missing @.
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
PASSWORD_MIN = 8
# Argon2 hashes any length, but a megabyte password would only cost the server time.
PASSWORD_MAX = 256
WEBHOOK_URL_MAX = 2000
DEFAULT_TIMEZONE = "UTC"
LOGIN_FAILED = "invalid email or password"


def _text_field(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str):
        raise invalid(field, "is required and must be a string")
    return value


def _allowed_fields(body: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    for key in body:
        if key not in allowed:
            raise invalid(key, f"unknown field; expected one of {sorted(allowed)}")
    return body


def _email(value: str) -> str:
    # Addresses are compared case-insensitively: Ann@X.org and ann@x.org are one account.
    email = normalise_email(value)
    if len(email) > EMAIL_MAX or not EMAIL_SHAPE.match(email):
        raise invalid("email", "is not an email address such as ann@example.org")
    return email


def _password(value: str) -> str:
    if len(value) < PASSWORD_MIN:
        raise invalid("password", f"must have at least {PASSWORD_MIN} characters")
    if len(value) > PASSWORD_MAX:
        raise invalid("password", f"must have at most {PASSWORD_MAX} characters")
    if value.lower() in common_passwords():
        raise invalid("password", "is one of the most common passwords: choose another")
    return value


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common leaked passwords (specs/dependencies.md), lower-cased; loaded at
    the first sign-up, so only the web app pays for it."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def _timezone(value: Any) -> str:
    try:
        return parse_timezone(value).key
    except ValidationError as error:
        raise invalid(error.field, error.reason) from None


def _webhook_url(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > WEBHOOK_URL_MAX:
        raise invalid("webhook_url", f"must be an http(s) URL of at most {WEBHOOK_URL_MAX} chars")
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise invalid("webhook_url", "must be an http:// or https:// URL with a host")
    refusal = webhook.refused_address(
        value.strip(), allow_local=services().settings.webhook_allow_local
    )
    if refusal is not None:
        raise invalid("webhook_url", f"must reach a public address: {refusal}")
    return value.strip()


def _admit_attempt(email: str) -> None:
    """Spend one sign-up/login attempt of the client and one of the email, or raise RateLimited
    (429): before any password is hashed, so guessing costs the guesser, not the server."""
    limiter = services().rate_limiter
    request = flask.request
    client = client_address(
        request.remote_addr,
        request.headers.getlist("X-Forwarded-For"),
        services().settings.trusted_proxies,
    )
    limiter.admit(client, rate_limit.AUTH_CLIENT)
    limiter.admit(email, rate_limit.AUTH_EMAIL)


def _token_for(user_id: str) -> str:
    settings = services().settings
    return tokens.issue(
        user_id,
        secret=settings.jwt_secret,
        issuer=settings.jwt_issuer,
        ttl_seconds=settings.jwt_ttl_seconds,
    )


def _profile(user_id: str, user: User | None) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "email": user.email if user else None,
        "timezone": user.timezone if user else DEFAULT_TIMEZONE,
        "webhook_url": user.webhook_url if user else None,
    }


@blueprint.post("/api/auth/signup")
def signup() -> tuple[flask.Response, int]:
    body = _allowed_fields(json_body(), {"email", "password", "timezone"})
    email = _email(_text_field(body, "email"))
    password = _password(_text_field(body, "password"))
    timezone = _timezone(body.get("timezone") or DEFAULT_TIMEZONE)
    _admit_attempt(email)
    user = User(
        id=uuid.uuid4().hex,
        email=email,
        password_hash=passwords.hash_password(password),
        timezone=timezone,
        webhook_url=None,
        created_at=services().now(),
    )
    try:
        accounts.sign_up(services().engine, user)
    except accounts.EmailTaken:
        raise ApiError(409, "an account with this email already exists", field="email") from None
    answer = {**_profile(user.id, user), "token": _token_for(user.id)}
    return flask.jsonify(answer), 201


@blueprint.post("/api/auth/login")
def login() -> flask.Response:
    body = _allowed_fields(json_body(), {"email", "password"})
    email = _text_field(body, "email")
    password = _text_field(body, "password")
    _admit_attempt(normalise_email(email))
    user = accounts.find_by_email(services().engine, email)
    # Hashing takes a while: done outside any transaction, which on SQLite would hold the write
    # lock. Unknown email and wrong password take the same path and answer alike.
    verification = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not verification.ok:
        raise ApiError(401, LOGIN_FAILED)
    if verification.rehashed:
        accounts.keep_rehashed_password(services().engine, user.id, verification.rehashed)
    return flask.jsonify({**_profile(user.id, user), "token": _token_for(user.id)})


@blueprint.get("/api/me")
@require_user
def me() -> flask.Response:
    user_id = current_user_id()
    return flask.jsonify(_profile(user_id, accounts.get(services().engine, user_id)))


@blueprint.patch("/api/me")
@require_user
def update_me() -> flask.Response:
    body = _allowed_fields(json_body(), {"timezone", "webhook_url"})
    changes: dict[str, Any] = {}
    if "timezone" in body:
        changes["timezone"] = _timezone(body["timezone"])
    if "webhook_url" in body:
        changes["webhook_url"] = _webhook_url(body["webhook_url"])
    user_id = current_user_id()
    try:
        user = accounts.change_settings(services().engine, user_id, changes)
    except accounts.NoAccount:
        raise ApiError(404, "this token's user has no account here to hold settings") from None
    return flask.jsonify(_profile(user_id, user))
