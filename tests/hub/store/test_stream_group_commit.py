"""Group commit of the database stream, on SQLite and PostgreSQL.

Appends made together (concurrent single publishes, a batch) share one transaction; seqs stay
contiguous and in submission order, the live sink sees every entry once in seq order, and a
failed transaction answers every publisher of its group with StreamUnavailable and leaves
nothing behind.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import OperationalError

from hub.services import stream_db
from hub.services.stream_db import DatabaseStream
from hub.services.stream_types import Appended, Draft, Entry, StreamUnavailable
from hub.store import Database
from shared.namespaces import Namespace


def draft(publisher: str, n: int, company: str = "acme", event_id: str | None = None) -> Draft:
    """A newOrder draft named after its publisher and its place in that publisher's run."""
    payload = {"orderId": f"{publisher}-{n}", "status": "new"}
    return Draft(company, None, Namespace.ORDERS, "newOrder", payload, event_id=event_id)


class Sink:
    """Records what the live feed got, in the order it got it."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    async def __call__(self, entry: Entry) -> None:
        self.entries.append(entry)


async def started(db: Database) -> tuple[DatabaseStream, Sink]:
    stream, sink = DatabaseStream(db, max_events=10_000, max_age=3600), Sink()
    await stream.start(sink)
    return stream, sink


async def test_concurrent_publishers_and_a_batch_share_transactions_in_order(
    db: Database,
) -> None:
    stream, sink = await started(db)

    async def single(publisher: str, count: int) -> list[Appended]:
        return [await stream.append(draft(publisher, n)) for n in range(count)]

    async def batch(count: int) -> list[Appended | StreamUnavailable]:
        return await stream.append_many([draft("batch", n) for n in range(count)])

    singles = [single(f"p{i}", 10) for i in range(20)]
    outcomes = await asyncio.gather(*singles, batch(100), batch(50))
    await stream.stop()
    answered = [a for run in outcomes for a in run]
    assert all(isinstance(a, Appended) and a.entry is not None for a in answered)
    total = 20 * 10 + 150
    # One transaction per loop turn, not per append: 20 publishers and two batches.
    assert stream.commits <= 12
    seqs = [e.seq for e in sink.entries]
    assert seqs == list(range(1, total + 1))  # delivered once each, in seq order
    for run in outcomes:  # each publisher's events keep their order
        run_seqs = [a.entry.seq for a in run if isinstance(a, Appended) and a.entry]
        assert run_seqs == sorted(run_seqs)
    read_back = await stream.read("acme", 0, 1000)
    assert [(e.seq, e.payload) for e in read_back] == [(e.seq, e.payload) for e in sink.entries]
    # A client that saw seq 123 replays exactly the rest, each once.
    assert [e.seq for e in await stream.read("acme", 123, 1000)] == list(range(124, total + 1))


async def test_a_batch_is_one_transaction(db: Database) -> None:
    stream, sink = await started(db)
    before = stream.commits
    outcomes = await stream.append_many([draft("b", n) for n in range(100)])
    assert stream.commits == before + 1
    assert [o.entry.seq for o in outcomes if isinstance(o, Appended) and o.entry] == list(
        range(1, 101)
    )
    assert [e.payload["orderId"] for e in sink.entries] == [f"b-{n}" for n in range(100)]
    await stream.stop()


async def test_companies_in_one_group_each_count_from_one(db: Database) -> None:
    stream, sink = await started(db)
    drafts = [draft("x", n, company="acme" if n % 2 else "bistro") for n in range(10)]
    outcomes = await stream.append_many(drafts)
    entries = [o.entry for o in outcomes if isinstance(o, Appended) and o.entry]
    assert [(e.company_id, e.seq) for e in entries] == [
        ("bistro" if n % 2 == 0 else "acme", n // 2 + 1) for n in range(10)
    ]
    assert [e.offset for e in sink.entries] == [e.offset for e in entries]
    await stream.stop()


async def test_a_failed_group_answers_every_publisher_and_leaves_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, sink = await started(db)
    await stream.append(draft("warm", 0))
    real = stream_db.store.remember_answers
    failures = 1

    async def failing(*args: object, **kwargs: object) -> None:
        nonlocal failures
        await real(*args, **kwargs)  # type: ignore[arg-type]
        if failures:  # fail after the events and eventIds were written: they must roll back
            failures -= 1
            raise OperationalError("INSERT", {}, Exception("disk I/O error (injected)"))

    monkeypatch.setattr(stream_db.store, "remember_answers", failing)

    async def single(n: int) -> Appended | StreamUnavailable:
        try:
            return await stream.append(draft("single", n, event_id=f"s{n}"))
        except StreamUnavailable as exc:
            return exc

    batch = stream.append_many([draft("batch", n, event_id=f"b{n}") for n in range(5)])
    outcomes = await asyncio.gather(*(single(n) for n in range(5)), batch)
    failed = [*outcomes[:5], *outcomes[5]]  # type: ignore[misc]
    assert len(failed) == 10 and all(isinstance(o, StreamUnavailable) for o in failed)
    assert [e.seq for e in sink.entries] == [1]  # nothing of the group went out
    assert (await stream.head("acme")).seq == 1  # no seq used
    assert [e.seq for e in await stream.read("acme", 0, 100)] == [1]
    # The same eventIds again: appended now (nothing was remembered), each once, in order.
    retried = await stream.append_many([draft("batch", n, event_id=f"b{n}") for n in range(5)])
    assert [o.entry.seq for o in retried if isinstance(o, Appended) and o.entry] == [2, 3, 4, 5, 6]
    assert [e.seq for e in sink.entries] == [1, 2, 3, 4, 5, 6]
    await stream.stop()


async def test_event_ids_repeated_within_and_across_groups_append_once(db: Database) -> None:
    stream, sink = await started(db)
    first = await stream.append_many(
        [draft("a", 0, event_id="e1"), draft("a", 1, event_id="e1"), draft("a", 2)]
    )
    assert isinstance(first[0], Appended) and first[0].entry is not None
    assert isinstance(first[1], Appended) and first[1].duplicate
    assert first[1].first_answer is not None
    assert first[1].first_answer["offset"] == first[0].entry.offset.to_wire()
    again = await stream.append(draft("a", 3, event_id="e1"))
    assert again.first_answer == first[1].first_answer
    assert [e.seq for e in sink.entries] == [1, 2]
    await stream.stop()


async def test_a_cancelled_publisher_does_not_stop_its_group(db: Database) -> None:
    stream, sink = await started(db)
    waiting = asyncio.ensure_future(stream.append(draft("gone", 0)))
    others = asyncio.ensure_future(stream.append_many([draft("stays", n) for n in range(3)]))
    await asyncio.sleep(0)
    waiting.cancel()
    outcomes = await others
    assert all(isinstance(o, Appended) for o in outcomes)
    # The cancelled publisher's event was durable already or never taken; never half.
    assert [e.seq for e in sink.entries] == list(range(1, len(sink.entries) + 1))
    assert len(await stream.read("acme", 0, 10)) == len(sink.entries)
    await stream.stop()


async def test_heads_asked_together_are_read_once(db: Database) -> None:
    stream, _ = await started(db)
    await stream.append_many([draft("a", n) for n in range(3)])
    heads = await asyncio.gather(*(stream.head("acme" if i % 2 else "bistro") for i in range(50)))
    assert {(h.stream, h.seq, h.first) for h in heads} == {("acme", 3, 1), ("bistro", 0, None)}
    assert stream._heads.fetches == 1  # one session for a room of clients handed over at once
    await stream.stop()
