"""Password hashing with Argon2id (argon2-cffi), and the helpers the user store needs.

These functions are CPU-bound for ~0.1 s by design; async callers run them in a thread.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: argon2-cffi's defaults follow RFC 9106's second recommended (low-memory) profile.
HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (salted, self-describing PHC string)."""
    if not password:
        raise ValueError("the password is empty")
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False on mismatch or an unreadable hash."""
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than HASHER's current ones."""
    return HASHER.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return HASHER.hash("not a password: used to spend the time of a real verify")


def burn_verify(password: str) -> None:
    """Spend as long as a real verification, so an unknown user answers as slowly as a known one."""
    verify_password(_dummy_hash(), password)
