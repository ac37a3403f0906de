"""The stream backend of a single hub: company streams in its database.

One append at a time per company (an asyncio lock): the seq is bumped, the event inserted and,
for an eventId, the answer remembered, in one transaction; after the commit the entry goes to
the live sink while the lock is still held, so clients see a company's events in seq order.
A hub without Redis runs as one process, so the lock is the whole story; the database's
unique keys make a second writer fail loudly rather than interleave.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from hub.services.stream_types import Appended, Draft, Entry, Sink, StreamUnavailable, answer_with
from hub.store import Database
from hub.store import streams as store
from hub.store.columns import utcnow
from shared.namespaces import Namespace
from shared.streams import Head, StreamOffset

log = logging.getLogger("chit.hub.streams")

#: Count-trim a company's stream every this many appends (a DELETE per append is waste).
TRIM_EVERY = 64


def new_epoch() -> str:
    """A fresh epoch token (12 URL-safe characters)."""
    return secrets.token_urlsafe(9)


class DatabaseStream:
    """Company streams in the hub's database, fed live by the appends themselves."""

    def __init__(self, db: Database, max_events: int, max_age: float) -> None:
        self._db = db
        self.max_events = max_events
        self.max_age = max_age
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._sink: Sink | None = None

    async def start(self, sink: Sink) -> None:
        """Deliver each append to ``sink`` from now on."""
        self._sink = sink

    async def stop(self) -> None:
        """Stop delivering."""
        self._sink = None

    def validate(self, draft: Draft) -> None:
        """Every draft fits (the publish API bounds payloads already)."""

    async def append(self, draft: Draft) -> Appended:
        """Append in one transaction, then hand the entry to the sink (in seq order)."""
        async with self._locks[draft.company_id]:
            try:
                appended = await self._append(draft)
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                log.error("stream append failed", extra={"error": str(exc)})
                raise StreamUnavailable(str(exc)) from exc
            if appended.entry is not None and self._sink is not None:
                await self._sink(appended.entry)
            return appended

    async def _append(self, draft: Draft) -> Appended:
        company = draft.company_id
        async with self._db.session() as s:
            if draft.event_id is not None:
                first = await store.answer_for(s, company, draft.event_id)
                if first is not None:
                    return Appended(None, first)
            row = (str(draft.namespace), draft.event, draft.branch_id, draft.payload)
            epoch, seq = await store.append(s, company, new_epoch(), row)
            offset = StreamOffset(stream=company, epoch=epoch, seq=seq)
            if draft.event_id is not None:
                await store.remember_answer(
                    s, company, draft.event_id, seq, answer_with(draft, offset)
                )
            if seq % TRIM_EVERY == 0:
                await store.trim_to(s, company, seq - self.max_events)
        return Appended(_entry(draft, offset))

    async def head(self, company_id: str) -> Head:
        """The company's stream head (created with a new epoch on first sight)."""
        try:
            async with self._db.session() as s:
                epoch, seq = await store.head(s, company_id, new_epoch())
                first = await store.first_seq(s, company_id)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise StreamUnavailable(str(exc)) from exc
        return Head(company_id, epoch, seq, first)

    async def read(self, company_id: str, after: int, limit: int) -> list[Entry]:
        """Entries after seq ``after``, oldest first."""
        try:
            async with self._db.session() as s:
                epoch, _ = await store.head(s, company_id, new_epoch())
                rows = await store.read_after(s, company_id, after, limit)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise StreamUnavailable(str(exc)) from exc
        return [
            Entry(
                company_id,
                row.branch_id,
                Namespace(row.namespace),
                row.event,
                row.payload,
                StreamOffset(stream=company_id, epoch=epoch, seq=row.seq),
            )
            for row in rows
        ]

    async def trim(self) -> None:
        """Delete events and event ids older than the retention's age."""
        cutoff = utcnow() - timedelta(seconds=self.max_age)
        async with self._db.session() as s:
            removed = await store.trim_older(s, cutoff)
        if removed:
            log.info("stream events past their age trimmed", extra={"count": removed})


def _entry(draft: Draft, offset: StreamOffset) -> Entry:
    return Entry(
        draft.company_id, draft.branch_id, draft.namespace, draft.event, draft.payload, offset
    )
