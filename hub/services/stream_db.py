"""The stream backend of a single hub: company streams in its database.

Group commit: appends made during one loop turn (concurrent single publishes, a whole batch
request), and those made while the previous group is being written, go in ONE transaction
(per company one seq bump by n and one multi-row insert, one lookup and one insert of
eventIds), up to ``GROUP``; one group at a time (an :class:`OrderedBatcher`), so seqs are
handed out in submission order. Once the transaction committed, the group's entries go to
the live sink in seq order, and only then is each publisher answered: nothing is broadcast
or acknowledged before it is durable, and a failed transaction answers every publisher of
its group with StreamUnavailable and leaves nothing of it behind (no seq used, no event,
no eventId). A hub without Redis runs as one process, so the one writer is the whole story;
the database's unique keys make a second writer fail loudly rather than interleave.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.services.batching import KeyedBatcher, OrderedBatcher
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
GROUP = 500
#: Seconds :meth:`DatabaseStream.stop` lets queued appends be written.
STOP_WAIT = 5.0


def new_epoch() -> str:
    """A fresh epoch token (12 URL-safe characters)."""
    return secrets.token_urlsafe(9)


def _interrupted() -> Exception:
    return StreamUnavailable("the append was interrupted")


class DatabaseStream:
    """Company streams in the hub's database, fed live by the appends themselves."""

    def __init__(self, db: Database, max_events: int, max_age: float) -> None:
        self._db = db
        self.max_events = max_events
        self.max_age = max_age
        self._writer: OrderedBatcher[Draft, Appended] = OrderedBatcher(
            self._write, GROUP, _interrupted
        )
        self._heads: KeyedBatcher[str, Head | None] = KeyedBatcher(self._read_heads, None)
        self._sink: Sink | None = None

    @property
    def commits(self) -> int:
        """Transactions the appends took so far (groups written, failed ones included)."""
        return self._writer.writes

    async def start(self, sink: Sink) -> None:
        """Deliver each append to ``sink`` from now on."""
        self._sink = sink

    async def stop(self) -> None:
        """Write what is queued (bounded), then stop delivering."""
        await self._writer.close(STOP_WAIT)
        self._sink = None

    def validate(self, draft: Draft) -> None:
        """Every draft fits (the publish API bounds payloads already)."""

    async def append(self, draft: Draft) -> Appended:
        """Append (committed with whatever else is queued), delivered live in seq order."""
        return await self._writer.put(draft)

    async def append_many(self, drafts: Sequence[Draft]) -> list[Appended | StreamUnavailable]:
        """Append ``drafts`` in order, in one group; each one's outcome, in order."""
        futures = self._writer.submit(drafts)
        results: list[Appended | StreamUnavailable] = []
        for future in futures:
            try:
                results.append(await future)
            except StreamUnavailable as exc:
                results.append(exc)
        return results

    async def _write(self, drafts: list[Draft]) -> list[Appended]:
        """One group: one transaction, then the live sink in seq order."""
        try:
            async with self._db.write_session() as s:
                results = await self._append_all(s, drafts)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.error("stream append failed", extra={"error": str(exc), "group": len(drafts)})
            raise StreamUnavailable(str(exc)) from exc
        sink = self._sink
        if sink is not None:
            for appended in results:
                if appended.entry is not None:
                    await sink(appended.entry)
        return results

    async def _append_all(self, s: AsyncSession, drafts: list[Draft]) -> list[Appended]:
        """Append the group's drafts, company by company, keeping their order within each."""
        by_company: dict[str, list[int]] = {}
        for index, draft in enumerate(drafts):
            by_company.setdefault(draft.company_id, []).append(index)
        results: list[Appended | None] = [None] * len(drafts)
        for company, indexes in by_company.items():
            appended = await self._append_company(s, company, [drafts[i] for i in indexes])
            for index, outcome in zip(indexes, appended, strict=True):
                results[index] = outcome
        return [outcome for outcome in results if outcome is not None]

    async def _append_company(
        self, s: AsyncSession, company: str, drafts: list[Draft]
    ) -> list[Appended]:
        """One company's drafts: duplicates answered as first published, the rest appended."""
        known = await store.answers_for(s, company, {d.event_id for d in drafts if d.event_id})
        first_of: dict[str, int] = {}  # eventId -> index of the draft of this group publishing it
        fresh: list[int] = []
        for index, draft in enumerate(drafts):
            event_id = draft.event_id
            if event_id is None or (event_id not in known and event_id not in first_of):
                fresh.append(index)
                if event_id is not None:
                    first_of[event_id] = index
        offsets: dict[int, StreamOffset] = {}
        if fresh:
            rows = [(str(d.namespace), d.event, d.branch_id, d.payload) for d in drafts]
            epoch, last = await store.append_many(s, company, new_epoch(), [rows[i] for i in fresh])
            first = last - len(fresh) + 1
            for seq, index in enumerate(fresh, first):
                offsets[index] = StreamOffset(stream=company, epoch=epoch, seq=seq)
            answers = [
                (event_id, offsets[i].seq, answer_with(drafts[i], offsets[i]))
                for i in fresh
                if (event_id := drafts[i].event_id) is not None
            ]
            await store.remember_answers(s, company, answers)
            if last // TRIM_EVERY != (first - 1) // TRIM_EVERY:  # a multiple of it was crossed
                await store.trim_to(s, company, last - self.max_events)
        outcomes: list[Appended] = []
        for index, draft in enumerate(drafts):
            if index in offsets:
                outcomes.append(Appended(_entry(draft, offsets[index])))
            elif draft.event_id in known:
                outcomes.append(Appended(None, known[draft.event_id]))
            else:  # a second publish of an eventId first published earlier in this group
                first_index = first_of[str(draft.event_id)]
                answer = answer_with(drafts[first_index], offsets[first_index])
                outcomes.append(Appended(None, answer))
        return outcomes

    async def head(self, company_id: str) -> Head:
        """The company's stream head (created with a new epoch on first sight).

        Heads asked for in the same loop turn (a room of clients reconnecting at once, each
        handed over) are read in one session.
        """
        found = await self._heads.get(company_id)
        if found is None:  # pragma: no cover - every asked company is answered
            raise StreamUnavailable("the stream head could not be read")
        return found

    async def _read_heads(self, companies: list[str]) -> dict[str, Head | None]:
        try:
            async with self._db.session() as s:
                heads: dict[str, Head | None] = {}
                for company in companies:
                    epoch, seq = await store.head(s, company, new_epoch())
                    heads[company] = Head(company, epoch, seq, await store.first_seq(s, company))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise StreamUnavailable(str(exc)) from exc
        return heads

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
