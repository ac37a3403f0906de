"""Small SQL helpers the repositories share: the dialect, INSERT ... ON CONFLICT DO NOTHING."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

#: Most rows a list call returns, whatever the caller asks.
MAX_LIMIT = 500


def dialect(session: AsyncSession) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return session.get_bind().dialect.name


def clamp(limit: int, maximum: int = MAX_LIMIT) -> int:
    """A list limit between 1 and ``maximum``."""
    return max(1, min(limit, maximum))


async def insert_ignore(
    session: AsyncSession,
    model: type[DeclarativeBase],
    values: Mapping[str, Any],
    conflict: Sequence[str],
) -> bool:
    """Insert one row unless ``conflict`` columns clash with an existing one; True if inserted.

    Atomic on both backends: two sessions racing on the same key never both insert, and the
    loser neither raises nor poisons its transaction.
    """
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    primary = model.__mapper__.primary_key[0]
    statement = (
        insert(model).values(dict(values)).on_conflict_do_nothing(index_elements=list(conflict))
    )
    result = await session.execute(statement.returning(primary))
    return result.first() is not None


async def insert_ignore_many(
    session: AsyncSession,
    model: type[DeclarativeBase],
    rows: Sequence[Mapping[str, Any]],
    conflict: Sequence[str],
) -> None:
    """Insert ``rows`` in one executemany, skipping each that clashes on ``conflict`` columns."""
    if not rows:
        return
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    statement = insert(model).on_conflict_do_nothing(index_elements=list(conflict))
    await session.execute(statement, [dict(row) for row in rows])
