"""Companies and their branches. A branch id is bound to one company, forever.

Branch ids travel in tokens and room names without their company, so the first company that
names a branch owns it and any other company naming it is refused (TenantConflict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store._sql import insert_ignore
from hub.store.columns import utcnow
from hub.store.errors import NotFound, TenantConflict
from hub.store.models import Branch, Company


@dataclass(frozen=True)
class CompanyRow:
    """A tenant."""

    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class BranchRow:
    """A branch of a company."""

    id: str
    company_id: str
    name: str
    created_at: datetime


def _company(row: Company) -> CompanyRow:
    return CompanyRow(id=row.id, name=row.name, created_at=row.created_at)


def _branch(row: Branch) -> BranchRow:
    return BranchRow(id=row.id, company_id=row.company_id, name=row.name, created_at=row.created_at)


async def ensure_company(
    session: AsyncSession, company_id: str, name: str | None = None
) -> CompanyRow:
    """The company, created (named ``name`` or its id) on first sight; an existing one is kept."""
    values = {"id": company_id, "name": name or company_id, "created_at": utcnow()}
    await insert_ignore(session, Company, values, ["id"])
    row = await session.get_one(Company, company_id)
    return _company(row)


async def get_company(session: AsyncSession, company_id: str) -> CompanyRow | None:
    """The company, or None."""
    row = await session.get(Company, company_id)
    return None if row is None else _company(row)


async def ensure_branch(
    session: AsyncSession, branch_id: str, company_id: str, name: str | None = None
) -> BranchRow:
    """The branch, created on first sight (with its company); TenantConflict if another's."""
    await ensure_company(session, company_id)
    values = {"id": branch_id, "company_id": company_id, "name": name or branch_id}
    await insert_ignore(session, Branch, {**values, "created_at": utcnow()}, ["id"])
    row = await session.get_one(Branch, branch_id)
    if row.company_id != company_id:
        raise TenantConflict(f"branch {branch_id!r} belongs to another company")
    return _branch(row)


async def get_branch(session: AsyncSession, branch_id: str) -> BranchRow | None:
    """The branch, or None."""
    row = await session.get(Branch, branch_id)
    return None if row is None else _branch(row)


async def list_branches(session: AsyncSession, company_id: str) -> list[BranchRow]:
    """The company's branches, by id."""
    rows = await session.scalars(
        select(Branch).where(Branch.company_id == company_id).order_by(Branch.id)
    )
    return [_branch(row) for row in rows]


async def branch_company(session: AsyncSession, branch_id: str) -> str | None:
    """The id of the company that owns the branch, or None for an unknown branch."""
    result = await session.scalar(select(Branch.company_id).where(Branch.id == branch_id))
    return result


async def branch_companies(session: AsyncSession, branch_ids: Sequence[str]) -> dict[str, str]:
    """:func:`branch_company` for many branches in one query (unknown ones are left out)."""
    rows = await session.execute(
        select(Branch.id, Branch.company_id).where(Branch.id.in_(list(branch_ids)))
    )
    return {branch_id: company_id for branch_id, company_id in rows}


async def check_branch(session: AsyncSession, company_id: str, branch_id: str) -> None:
    """Raise NotFound for an unknown branch and TenantConflict for another company's branch."""
    owner = await branch_company(session, branch_id)
    if owner is None:
        raise NotFound(f"branch {branch_id!r} does not exist")
    if owner != company_id:
        raise TenantConflict(f"branch {branch_id!r} belongs to another company")
