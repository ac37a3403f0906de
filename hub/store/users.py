"""People who sign in to the manager UI, with Argon2id password hashes.

Usernames are unique across the hub and compared case-insensitively (stored lower-cased).
``authenticate`` takes about the same time whether the user exists or not, and quietly
upgrades a hash made with older parameters.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store import passwords
from hub.store._sql import insert_ignore
from hub.store.columns import utcnow
from hub.store.errors import AlreadyExists, NotFound
from hub.store.models import Company, User
from hub.store.tenants import check_branch

UserRole = Literal["admin", "manager", "staff"]
USER_ROLES: Final[tuple[str, ...]] = get_args(UserRole)


@dataclass(frozen=True)
class UserRow:
    """A user, without the password hash."""

    id: str
    company_id: str
    branch_id: str | None
    username: str
    role: str
    created_at: datetime
    disabled: bool


def _user(row: User) -> UserRow:
    return UserRow(
        id=row.id,
        company_id=row.company_id,
        branch_id=row.branch_id,
        username=row.username,
        role=row.role,
        created_at=row.created_at,
        disabled=row.disabled,
    )


def normalize_username(username: str) -> str:
    """The stored form of a username: trimmed and lower-cased."""
    return username.strip().lower()


async def _check_tenant(session: AsyncSession, company_id: str, branch_id: str | None) -> None:
    if await session.get(Company, company_id) is None:
        raise NotFound(f"company {company_id!r} does not exist")
    if branch_id is not None:
        await check_branch(session, company_id, branch_id)


async def create_user(
    session: AsyncSession,
    username: str,
    password: str,
    role: UserRole,
    company_id: str,
    branch_id: str | None = None,
) -> UserRow:
    """Create a user; AlreadyExists when the username is taken."""
    name = normalize_username(username)
    if not name or role not in USER_ROLES:
        raise ValueError("a user needs a username and one of the roles " + ", ".join(USER_ROLES))
    await _check_tenant(session, company_id, branch_id)
    password_hash = await asyncio.to_thread(passwords.hash_password, password)
    values = {
        "id": str(uuid.uuid4()),
        "company_id": company_id,
        "branch_id": branch_id,
        "username": name,
        "password_hash": password_hash,
        "role": role,
        "created_at": utcnow(),
        "disabled": False,
    }
    if not await insert_ignore(session, User, values, ["username"]):
        raise AlreadyExists(f"username {name!r} is taken")
    return _user(await session.get_one(User, values["id"]))


async def _by_username(session: AsyncSession, username: str) -> User | None:
    statement = select(User).where(User.username == normalize_username(username))
    return await session.scalar(statement)


async def authenticate(session: AsyncSession, username: str, password: str) -> UserRow | None:
    """The user when the password matches and the account is enabled, else None."""
    user = await _by_username(session, username)
    if user is None or user.disabled:
        await asyncio.to_thread(passwords.burn_verify, password)
        return None
    if not await asyncio.to_thread(passwords.verify_password, user.password_hash, password):
        return None
    if passwords.needs_rehash(user.password_hash):
        await set_password(session, user.id, password)
    return _user(user)


async def set_password(session: AsyncSession, user_id: str, password: str) -> bool:
    """Replace a user's password; False for an unknown user."""
    password_hash = await asyncio.to_thread(passwords.hash_password, password)
    result = await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_disabled(
    session: AsyncSession, company_id: str, user_id: str, disabled: bool
) -> bool:
    """Disable or re-enable a user of the company; False when there is no such user."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id, User.company_id == company_id)
        .values(disabled=disabled)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get_user(session: AsyncSession, user_id: str) -> UserRow | None:
    """The user, or None."""
    row = await session.get(User, user_id)
    return None if row is None else _user(row)


async def list_users(session: AsyncSession, company_id: str) -> list[UserRow]:
    """The company's users, by username."""
    rows = await session.scalars(
        select(User).where(User.company_id == company_id).order_by(User.username)
    )
    return [_user(row) for row in rows]


async def count_users(session: AsyncSession) -> int:
    """How many users the hub has (zero means: offer to create the first admin)."""
    return await session.scalar(select(func.count()).select_from(User)) or 0
