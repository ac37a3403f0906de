"""One-time pairing codes that bind a new agent to a company's branch.

A code is 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown as
``XXXX-XXXX``: 31^8, about 8.5e11 codes (~40 bits), alive for minutes and used once, so
guessing one is hopeless behind the API's rate limit. Input is forgiving: case, spaces and
dashes are ignored. Only the SHA-256 of the normalised code is stored. Redemption is one
conditional UPDATE, so two agents racing for one code cannot both win.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store.columns import utcnow
from hub.store.errors import (
    PAIRING_CODE_EXPIRED,
    PAIRING_CODE_INVALID,
    PAIRING_CODE_USED,
    PairingError,
)
from hub.store.models import PairingCode
from hub.store.tenants import check_branch

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
DEFAULT_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class Redeemed:
    """Where a redeemed code sends its agent."""

    company_id: str
    branch_id: str


def normalize_code(code: str) -> str:
    """The canonical code: upper-case, without spaces or dashes."""
    return "".join(code.split()).replace("-", "").upper()


def format_code(code: str) -> str:
    """The code as shown to people: ``XXXX-XXXX``."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def hash_code(code: str) -> str:
    """The stored form of a code (SHA-256 hex of the normalised code)."""
    return hashlib.sha256(normalize_code(code).encode("ascii", "replace")).hexdigest()


def is_well_formed(code: str) -> bool:
    """True when the normalised code could have been issued by this module."""
    normal = normalize_code(code)
    return len(normal) == CODE_LENGTH and all(char in ALPHABET for char in normal)


async def create_pairing_code(
    session: AsyncSession,
    company_id: str,
    branch_id: str,
    created_by: str,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> str:
    """Issue a code for the company's branch; returns it formatted (the only time it exists)."""
    await check_branch(session, company_id, branch_id)
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    at = now or utcnow()
    session.add(
        PairingCode(
            code_hash=hash_code(code),
            company_id=company_id,
            branch_id=branch_id,
            created_by=created_by,
            created_at=at,
            expires_at=at + ttl,
        )
    )
    await session.flush()
    return format_code(code)


async def redeem_pairing_code(
    session: AsyncSession, code: str, agent_id: str, now: datetime | None = None
) -> Redeemed:
    """Use a code once; PairingError (invalid, expired or used) otherwise."""
    if not is_well_formed(code):
        raise PairingError("the pairing code is not valid", PAIRING_CODE_INVALID)
    at, digest = now or utcnow(), hash_code(code)
    result = await session.execute(
        update(PairingCode)
        .where(PairingCode.code_hash == digest, PairingCode.used_at.is_(None))
        .where(PairingCode.expires_at > at)
        .values(used_at=at, agent_id=agent_id)
        .returning(PairingCode.company_id, PairingCode.branch_id)
        .execution_options(synchronize_session=False)
    )
    won = result.first()
    if won is None:
        raise await _refusal(session, digest)
    return Redeemed(company_id=won.company_id, branch_id=won.branch_id)


async def _refusal(session: AsyncSession, digest: str) -> PairingError:
    """Why a code could not be redeemed (for logs; the API may show one message for all)."""
    row = await session.get(PairingCode, digest, populate_existing=True)
    if row is None:
        return PairingError("the pairing code is not valid", PAIRING_CODE_INVALID)
    if row.used_at is not None:
        return PairingError("the pairing code was already used", PAIRING_CODE_USED)
    return PairingError("the pairing code has expired", PAIRING_CODE_EXPIRED)
