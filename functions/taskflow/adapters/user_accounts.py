"""The users repository plus what only the accounts API needs: replacing a password hash."""

from __future__ import annotations

import sqlalchemy as sa

from taskflow.adapters import orm
from taskflow.adapters.repository import SqlAlchemyUserRepository


class UserAccounts(SqlAlchemyUserRepository):
    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Store a stronger hash of the same password (argon2 parameters were raised)."""
        self.db.execute(
            sa.update(orm.users)
            .where(orm.users.c.id == user_id)
            .values(password_hash=password_hash)
        )
