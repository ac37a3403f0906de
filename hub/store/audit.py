"""The audit log: who did what to what. Append-only; read newest first, per company."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store._sql import clamp
from hub.store.columns import utcnow
from hub.store.models import AuditEntry


@dataclass(frozen=True)
class AuditRow:
    """One audit entry."""

    id: int
    company_id: str | None
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any] | None
    at: datetime


def _row(row: AuditEntry) -> AuditRow:
    detail = None if row.detail is None else dict(row.detail)
    return AuditRow(row.id, row.company_id, row.actor, row.action, row.target, detail, row.at)


async def record(
    session: AsyncSession,
    company_id: str | None,
    actor: str,
    action: str,
    target: str | None = None,
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Append an entry (``detail`` must be JSON-ready)."""
    session.add(
        AuditEntry(
            company_id=company_id,
            actor=actor,
            action=action,
            target=target,
            detail=None if detail is None else dict(detail),
            at=now or utcnow(),
        )
    )
    await session.flush()


async def list_audit(session: AsyncSession, company_id: str, limit: int = 100) -> list[AuditRow]:
    """The company's latest entries, newest first."""
    statement = select(AuditEntry).where(AuditEntry.company_id == company_id)
    rows = await session.scalars(statement.order_by(AuditEntry.id.desc()).limit(clamp(limit)))
    return [_row(row) for row in rows]
