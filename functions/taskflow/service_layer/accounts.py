"""The accounts use case: sign up, find a user to log in, keep a stronger password hash, read
and change a user's settings, and the user's zone. The API's account views (entrypoints/
accounts.py) check input and answer; the database work is here, each in one transaction."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from taskflow.adapters.repository import User
from taskflow.adapters.user_accounts import UserAccounts


class EmailTaken(Exception):
    """An account with this email exists; nothing was written."""


class NoAccount(Exception):
    """The user has no account row here (a token from another identity provider)."""


def sign_up(engine: Engine, user: User) -> None:
    try:
        with Session(engine) as session, session.begin():
            UserAccounts(session).add(user)
    except sa.exc.IntegrityError:
        raise EmailTaken(user.email) from None


def find_by_email(engine: Engine, email: str) -> User | None:
    with Session(engine) as session:
        return UserAccounts(session).get_by_email(email)


def keep_rehashed_password(engine: Engine, user_id: str, password_hash: str) -> None:
    with Session(engine) as session, session.begin():
        UserAccounts(session).set_password_hash(user_id, password_hash)


def get(engine: Engine, user_id: str) -> User | None:
    with Session(engine) as session:
        return UserAccounts(session).get(user_id)


def change_settings(engine: Engine, user_id: str, changes: dict[str, Any]) -> User | None:
    """Apply `changes` (timezone, webhook_url; already checked) and return the user as now."""
    with Session(engine) as session, session.begin():
        users = UserAccounts(session)
        if users.get(user_id) is None:
            raise NoAccount(user_id)
        if "timezone" in changes:
            users.set_timezone(user_id, changes["timezone"])
        if "webhook_url" in changes:
            users.set_webhook_url(user_id, changes["webhook_url"])
        return users.get(user_id)


def zone(engine: Engine, user_id: str) -> ZoneInfo:
    with Session(engine) as session:
        return UserAccounts(session).zone(user_id)
