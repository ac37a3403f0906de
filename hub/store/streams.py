"""Company event streams of a single-instance hub, in the database (so they outlive a restart).

``stream_heads`` holds each company's epoch and last seq; an append of n events bumps the seq
by n with one ``UPDATE ... RETURNING`` (atomic on both backends) and inserts the events under
the n seqs it reserved with one multi-row ``INSERT`` (executemany), in the caller's
transaction. ``stream_event_ids`` remembers each publisher eventId with the answer it
got. Trimming (by count per company, by age for all) deletes from the oldest end only, so what
is kept is always a contiguous run of seqs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store._sql import insert_ignore, insert_ignore_many
from hub.store.columns import utcnow
from hub.store.models import StreamEvent, StreamEventId, StreamHead


@dataclass(frozen=True)
class StoredEvent:
    """One event of a company's stream."""

    company_id: str
    seq: int
    namespace: str
    event: str
    branch_id: str | None
    payload: dict[str, Any]


async def head(session: AsyncSession, company_id: str, new_epoch: str) -> tuple[str, int]:
    """The stream's (epoch, last seq); a stream seen for the first time starts ``new_epoch``.

    Events left without a head (a head row lost, say, to a partial restore) belong to a history
    nobody can name any more: they are dropped, so the new epoch starts empty at seq 1.
    """
    values = {"company_id": company_id, "epoch": new_epoch, "seq": 0, "created_at": utcnow()}
    if await insert_ignore(session, StreamHead, values, ["company_id"]):
        await session.execute(delete(StreamEvent).where(StreamEvent.company_id == company_id))
    row = await session.get_one(StreamHead, company_id, populate_existing=True)
    return row.epoch, row.seq


async def first_seq(session: AsyncSession, company_id: str) -> int | None:
    """The oldest seq still kept, or None when nothing is."""
    query = select(func.min(StreamEvent.seq)).where(StreamEvent.company_id == company_id)
    value = await session.scalar(query)
    return None if value is None else int(value)


#: ``(namespace, event, branch_id, payload)`` of one event to append.
NewEvent = tuple[str, str, str | None, dict[str, Any]]


async def append(
    session: AsyncSession, company_id: str, new_epoch: str, event: NewEvent
) -> tuple[str, int]:
    """Append ``(namespace, event, branch_id, payload)``; returns its (epoch, seq)."""
    return await append_many(session, company_id, new_epoch, [event])


async def append_many(
    session: AsyncSession, company_id: str, new_epoch: str, events: Sequence[NewEvent]
) -> tuple[str, int]:
    """Append ``events`` in order under consecutive seqs; returns (epoch, the last seq).

    The first of them got ``last - len(events) + 1``. One UPDATE and one INSERT whatever
    their number (a stream seen for the first time starts ``new_epoch``).
    """
    if not events:
        raise ValueError("nothing to append")
    bump = (
        update(StreamHead)
        .where(StreamHead.company_id == company_id)
        .values(seq=StreamHead.seq + len(events))
        .returning(StreamHead.epoch, StreamHead.seq)
    )
    bumped = (await session.execute(bump)).first()
    if bumped is None:  # the company's first event: start its stream
        await head(session, company_id, new_epoch)
        bumped = (await session.execute(bump)).one()
    epoch, last = str(bumped[0]), int(bumped[1])
    now = utcnow()
    first = last - len(events) + 1
    rows = [
        {
            "company_id": company_id,
            "seq": seq,
            "namespace": namespace,
            "event": name,
            "branch_id": branch_id,
            "payload": payload,
            "created_at": now,
        }
        for seq, (namespace, name, branch_id, payload) in enumerate(events, first)
    ]
    await session.execute(insert(StreamEvent), rows)
    return epoch, last


async def read_after(
    session: AsyncSession, company_id: str, after: int, limit: int
) -> list[StoredEvent]:
    """Up to ``limit`` events with seq greater than ``after``, oldest first."""
    query = (
        select(StreamEvent)
        .where(StreamEvent.company_id == company_id, StreamEvent.seq > after)
        .order_by(StreamEvent.seq)
        .limit(limit)
    )
    rows = (await session.scalars(query)).all()
    return [
        StoredEvent(r.company_id, r.seq, r.namespace, r.event, r.branch_id, r.payload) for r in rows
    ]


async def answer_for(
    session: AsyncSession, company_id: str, event_id: str
) -> dict[str, Any] | None:
    """The answer the first publish of ``event_id`` got, while it is remembered."""
    row = await session.get(StreamEventId, (company_id, event_id))
    return None if row is None else dict(row.answer)


async def remember_answer(
    session: AsyncSession, company_id: str, event_id: str, seq: int, answer: dict[str, Any]
) -> bool:
    """Remember the first answer for ``event_id``; False when one is remembered already."""
    values = {
        "company_id": company_id,
        "event_id": event_id,
        "seq": seq,
        "answer": answer,
        "created_at": utcnow(),
    }
    return await insert_ignore(session, StreamEventId, values, ["company_id", "event_id"])


async def answers_for(
    session: AsyncSession, company_id: str, event_ids: Collection[str]
) -> dict[str, dict[str, Any]]:
    """The first answers of those ``event_ids`` that are remembered, by event id."""
    if not event_ids:
        return {}
    query = select(StreamEventId.event_id, StreamEventId.answer).where(
        StreamEventId.company_id == company_id, StreamEventId.event_id.in_(list(event_ids))
    )
    return {event_id: dict(answer) for event_id, answer in (await session.execute(query)).all()}


async def remember_answers(
    session: AsyncSession, company_id: str, answers: Sequence[tuple[str, int, dict[str, Any]]]
) -> None:
    """Remember ``(event_id, seq, answer)`` of each first publish (one executemany).

    An event id remembered already keeps its first answer (the insert skips it).
    """
    if not answers:
        return
    now = utcnow()
    rows = [
        {"company_id": company_id, "event_id": event_id, "seq": seq, "answer": answer,
         "created_at": now}
        for event_id, seq, answer in answers
    ]  # fmt: skip
    await insert_ignore_many(session, StreamEventId, rows, ["company_id", "event_id"])


async def trim_to(session: AsyncSession, company_id: str, keep_after: int) -> int:
    """Delete the company's events with seq up to ``keep_after``; how many went."""
    statement = delete(StreamEvent).where(
        StreamEvent.company_id == company_id, StreamEvent.seq <= keep_after
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def trim_older(session: AsyncSession, cutoff: datetime) -> int:
    """Delete every event and remembered event id created before ``cutoff``; how many events."""
    result = await session.execute(delete(StreamEvent).where(StreamEvent.created_at < cutoff))
    await session.execute(delete(StreamEventId).where(StreamEventId.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
