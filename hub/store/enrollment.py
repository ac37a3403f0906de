"""Enrolment codes: one code, many tills of one branch, up to ``max_uses`` times until expiry.

Unlike a pairing code (minutes, once), an enrolment code is written into an installer's
command line or a preseed file and lives for days, so it is longer: 16 characters from the
pairing alphabet, shown ``XXXX-XXXX-XXXX-XXXX`` (31^16, about 79 bits). Only its SHA-256 is
stored. A redemption is one conditional UPDATE (``uses < max_uses``, not expired, not revoked),
so N tills racing for the last use cannot overshoot. Every redeeming till gets its own device
credential; revoking the code stops new enrolments and leaves enrolled tills alone.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store.columns import utcnow
from hub.store.errors import (
    ENROLLMENT_CODE_EXPIRED,
    ENROLLMENT_CODE_INVALID,
    ENROLLMENT_CODE_REVOKED,
    ENROLLMENT_CODE_USED_UP,
    EnrollmentError,
)
from hub.store.models import EnrollmentCode
from hub.store.pairing import ALPHABET, Redeemed, normalize_code
from hub.store.tenants import check_branch

CODE_LENGTH = 16
GROUP = 4


@dataclass(frozen=True)
class EnrollmentRow:
    """An enrolment code as a manager sees it (never the code itself)."""

    id: str
    company_id: str
    branch_id: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    max_uses: int
    uses: int
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """active, used_up, expired or revoked (the first that applies, revoked first)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.uses >= self.max_uses:
            return "used_up"
        return "expired" if self.expires_at <= now else "active"


@dataclass(frozen=True)
class Enrolled(Redeemed):
    """Where a redeemed enrolment code sends its agent, and which code it was."""

    code_id: str


def format_code(code: str) -> str:
    """The code as shown to people: groups of four joined by dashes."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def hash_code(code: str) -> str:
    """The stored form of a code (SHA-256 hex of the normalised code)."""
    return hashlib.sha256(normalize_code(code).encode("ascii", "replace")).hexdigest()


def is_well_formed(code: str) -> bool:
    """True when the normalised code could have been issued by this module."""
    normal = normalize_code(code)
    return len(normal) == CODE_LENGTH and all(char in ALPHABET for char in normal)


def _row(row: EnrollmentCode) -> EnrollmentRow:
    return EnrollmentRow(
        id=row.id,
        company_id=row.company_id,
        branch_id=row.branch_id,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        max_uses=row.max_uses,
        uses=row.uses,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


async def create_code(
    session: AsyncSession,
    company_id: str,
    branch_id: str,
    created_by: str,
    max_uses: int,
    ttl: timedelta,
    now: datetime | None = None,
) -> tuple[str, EnrollmentRow]:
    """Issue a code for the company's branch: (the formatted code, shown once; its row)."""
    await check_branch(session, company_id, branch_id)
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    at = now or utcnow()
    row = EnrollmentCode(
        id=str(uuid.uuid4()),
        code_hash=hash_code(code),
        company_id=company_id,
        branch_id=branch_id,
        created_by=created_by,
        created_at=at,
        expires_at=at + ttl,
        max_uses=max_uses,
        uses=0,
    )
    session.add(row)
    await session.flush()
    return format_code(code), _row(row)


async def list_codes(
    session: AsyncSession, company_id: str, branch_id: str | None = None
) -> list[EnrollmentRow]:
    """The company's codes (optionally of one branch), newest first."""
    statement = select(EnrollmentCode).where(EnrollmentCode.company_id == company_id)
    if branch_id is not None:
        statement = statement.where(EnrollmentCode.branch_id == branch_id)
    statement = statement.order_by(EnrollmentCode.created_at.desc(), EnrollmentCode.id)
    return [_row(row) for row in await session.scalars(statement)]


async def get_code(session: AsyncSession, company_id: str, code_id: str) -> EnrollmentRow | None:
    """The company's code by id, or None (also for another company's)."""
    row = await session.get(EnrollmentCode, code_id)
    return None if row is None or row.company_id != company_id else _row(row)


async def revoke_code(
    session: AsyncSession, company_id: str, code_id: str, now: datetime | None = None
) -> EnrollmentRow | None:
    """Stop a code from enrolling more agents (idempotent); None when the company has none."""
    row = await session.get(EnrollmentCode, code_id, with_for_update=True)
    if row is None or row.company_id != company_id:
        return None
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        await session.flush()
    return _row(row)


async def redeem_code(session: AsyncSession, code: str, now: datetime | None = None) -> Enrolled:
    """Use the code once more; EnrollmentError (invalid, used up, expired, revoked) otherwise."""
    if not is_well_formed(code):
        raise EnrollmentError("the enrolment code is not valid", ENROLLMENT_CODE_INVALID)
    at, digest = now or utcnow(), hash_code(code)
    result = await session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.code_hash == digest, EnrollmentCode.revoked_at.is_(None))
        .where(EnrollmentCode.uses < EnrollmentCode.max_uses, EnrollmentCode.expires_at > at)
        .values(uses=EnrollmentCode.uses + 1, last_used_at=at)
        .returning(EnrollmentCode.id, EnrollmentCode.company_id, EnrollmentCode.branch_id)
        .execution_options(synchronize_session=False)
    )
    won = result.first()
    if won is None:
        raise await _refusal(session, digest, at)
    return Enrolled(company_id=won.company_id, branch_id=won.branch_id, code_id=won.id)


async def _refusal(session: AsyncSession, digest: str, at: datetime) -> EnrollmentError:
    """Why a code could not be redeemed (for logs; the API shows one message for all)."""
    found = await session.scalar(select(EnrollmentCode).where(EnrollmentCode.code_hash == digest))
    if found is None:
        return EnrollmentError("the enrolment code is not valid", ENROLLMENT_CODE_INVALID)
    state = _row(found).state(at)
    codes = {"revoked": ENROLLMENT_CODE_REVOKED, "used_up": ENROLLMENT_CODE_USED_UP}
    return EnrollmentError(
        f"the enrolment code is {state}", codes.get(state, ENROLLMENT_CODE_EXPIRED)
    )
