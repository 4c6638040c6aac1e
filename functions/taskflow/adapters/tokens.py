"""JWT access tokens: HS256 with a shared secret, so tokens minted by the Better Auth setup the
original design used (same secret, `sub` = user id) are accepted too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


def issue(user_id: str, *, secret: str, issuer: str, ttl_seconds: int) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": user_id,
        "iss": issuer,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(token: str, *, secret: str) -> str:
    """Return the user id of a valid token; raise InvalidToken otherwise.

    The issuer is not enforced so that Better Auth tokens signed with the same secret pass.
    """
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not user_id:
        raise InvalidToken("token has no subject")
    return user_id


def bearer_token(authorization_header: str | None) -> str:
    scheme, _, token = (authorization_header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("expected 'Authorization: Bearer <token>'")
    return token.strip()
