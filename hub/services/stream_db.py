"""The stream backend of a single hub: company streams in its database.

One writer at a time per company (an asyncio lock), committing in groups: each append joins
the company's queue and waits for the lock; whoever holds it takes everything queued (up to
``GROUP``), bumps the seq, inserts the events and remembers eventIds in one transaction, then
hands the entries to the live sink in seq order while still holding the lock, and answers
every waiter. One commit per group, not per event, is what keeps durability cheap under load.
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
from sqlalchemy.ext.asyncio import AsyncSession

from hub.services.stream_types import Appended, Draft, Entry, Sink, StreamUnavailable, answer_with
from hub.store import Database
from hub.store import streams as store
from hub.store.columns import utcnow
from shared.namespaces import Namespace
from shared.streams import Head, StreamOffset

log = logging.getLogger("chit.hub.streams")

#: Count-trim a company's stream every this many appends (a DELETE per append is waste).
TRIM_EVERY = 64
#: Most appends committed in one transaction.
GROUP = 256

Waiter = tuple[Draft, "asyncio.Future[Appended]"]


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
        self._queued: defaultdict[str, list[Waiter]] = defaultdict(list)
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
        """Append (committed with whatever else is queued), delivered live in seq order."""
        company = draft.company_id
        future: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        self._queued[company].append((draft, future))
        async with self._locks[company]:
            if not future.done():  # nobody took it along: lead a group
                group = self._queued[company][:GROUP]
                del self._queued[company][:GROUP]
                await self._commit(group)
        return future.result()

    async def _commit(self, group: list[Waiter]) -> None:
        try:
            async with self._db.session() as s:
                results = [await self._append_in(s, draft) for draft, _ in group]
            for (_, future), appended in zip(group, results, strict=True):
                if appended.entry is not None and self._sink is not None:
                    await self._sink(appended.entry)
                future.set_result(appended)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.error("stream append failed", extra={"error": str(exc), "group": len(group)})
            _fail(group, StreamUnavailable(str(exc)))
        except BaseException:
            _fail(group, StreamUnavailable("the append was interrupted"))  # a cancelled leader
            raise

    async def _append_in(self, s: AsyncSession, draft: Draft) -> Appended:
        company = draft.company_id
        if draft.event_id is not None:
            first = await store.answer_for(s, company, draft.event_id)
            if first is not None:
                return Appended(None, first)
        row = (str(draft.namespace), draft.event, draft.branch_id, draft.payload)
        epoch, seq = await store.append(s, company, new_epoch(), row)
        offset = StreamOffset(stream=company, epoch=epoch, seq=seq)
        if draft.event_id is not None:
            await store.remember_answer(s, company, draft.event_id, seq, answer_with(draft, offset))
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


def _fail(group: list[Waiter], error: StreamUnavailable) -> None:
    """Answer every waiter of the group not answered yet with ``error``."""
    for _, future in group:
        if not future.done():
            future.set_exception(error)
            future.exception()  # retrieved: a waiter that went away logs nothing


def _entry(draft: Draft, offset: StreamOffset) -> Entry:
    return Entry(
        draft.company_id, draft.branch_id, draft.namespace, draft.event, draft.payload, offset
    )
