"""Password hashing with Argon2id (argon2-cffi), and the helpers the user store needs.

These functions are CPU-bound for ~0.1 s by design; async callers run them in a thread.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: argon2-cffi's defaults follow RFC 9106's second recommended (low-memory) profile.
HASHER = PasswordHasher()

#: The one password policy: ``chit-hub user add`` and ``POST /api/v1/me/password`` both apply it.
#: Length is what counts (NIST SP 800-63B: no composition rules); 10 is above its minimum of 8.
MIN_LENGTH = 10
#: Argon2 takes any length; a bound keeps hashing a hostile request cheap.
MAX_LENGTH = 1024


def policy_problem(password: str) -> str | None:
    """Why ``password`` may not be used (a sentence for the person choosing it), or None."""
    if len(password) < MIN_LENGTH:
        return f"the password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password may have at most {MAX_LENGTH} characters"
    if not password.strip():
        return "the password must not be only spaces"
    return None


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
