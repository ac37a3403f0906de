"""The single-instance stream tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from hub.store import Database
from hub.store import streams as store
from hub.store.columns import utcnow
from hub.store.models import StreamHead


def _event(n: int, branch: str | None = None) -> tuple[str, str, str | None, dict[str, object]]:
    return ("/orders", "newOrder", branch, {"orderId": f"o{n}"})


async def test_appends_number_each_company_from_one(db: Database) -> None:
    async with db.session() as s:
        assert await store.head(s, "acme", "e-acme") == ("e-acme", 0)
        assert await store.head(s, "acme", "ignored") == ("e-acme", 0)
        assert await store.append(s, "acme", "x", _event(1)) == ("e-acme", 1)
        assert await store.append(s, "acme", "x", _event(2, "b1")) == ("e-acme", 2)
        assert await store.append(s, "globex", "e-globex", _event(1)) == ("e-globex", 1)
    async with db.session() as s:
        rows = await store.read_after(s, "acme", 0, 10)
        assert [(r.seq, r.branch_id, r.payload) for r in rows] == [
            (1, None, {"orderId": "o1"}),
            (2, "b1", {"orderId": "o2"}),
        ]
        assert [r.seq for r in await store.read_after(s, "acme", 1, 10)] == [2]
        assert await store.read_after(s, "acme", 0, 1) == rows[:1]
        assert await store.first_seq(s, "acme") == 1
        assert await store.first_seq(s, "nobody") is None


async def test_an_event_id_keeps_its_first_answer(db: Database) -> None:
    async with db.session() as s:
        assert await store.remember_answer(s, "acme", "evt-1", 1, {"offset": 1})
        assert not await store.remember_answer(s, "acme", "evt-1", 2, {"offset": 2})
        assert await store.remember_answer(s, "globex", "evt-1", 1, {"offset": 9})
    async with db.session() as s:
        assert await store.answer_for(s, "acme", "evt-1") == {"offset": 1}
        assert await store.answer_for(s, "acme", "evt-2") is None


async def test_trimming_keeps_a_contiguous_newest_run(db: Database) -> None:
    async with db.session() as s:
        for n in range(1, 11):
            await store.append(s, "acme", "e", _event(n))
        assert await store.trim_to(s, "acme", 6) == 6
        assert await store.first_seq(s, "acme") == 7
        assert await store.trim_older(s, utcnow() - timedelta(hours=1)) == 0
        assert await store.trim_older(s, utcnow() + timedelta(seconds=1)) == 4
        assert await store.first_seq(s, "acme") is None
        assert await store.head(s, "acme", "other") == ("e", 10)  # seqs go on


async def test_a_lost_head_starts_a_new_empty_epoch(db: Database) -> None:
    async with db.session() as s:
        await store.append(s, "acme", "old", _event(1))
        await s.execute(delete(StreamHead))
    async with db.session() as s:
        assert await store.head(s, "acme", "new") == ("new", 0)
        assert await store.read_after(s, "acme", 0, 10) == []
        assert await store.append(s, "acme", "x", _event(2)) == ("new", 1)
