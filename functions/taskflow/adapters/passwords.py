"""Password hashing with Argon2id (argon2-cffi): memory-hard, salted, parameters in the hash.

A login for an unknown email still pays for one verification against a fixed hash, so the time
an attacker measures does not tell which emails have accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash of a password nobody knows, verified when the email is unknown to keep timings level.
_UNKNOWN_USER_HASH = _hasher.hash("taskflow: no such account")


@dataclass(frozen=True)
class Verification:
    ok: bool
    # Set when the stored hash used weaker parameters than today's: store it in place of the old.
    rehashed: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> Verification:
    """Check `password`; `stored_hash` None means "no such user" and always fails."""
    try:
        _hasher.verify(stored_hash or _UNKNOWN_USER_HASH, password)
    except (VerificationError, InvalidHashError):
        return Verification(ok=False)
    if stored_hash is None:
        return Verification(ok=False)
    if _hasher.check_needs_rehash(stored_hash):
        return Verification(ok=True, rehashed=_hasher.hash(password))
    return Verification(ok=True)
