"""The Redis stream backend against a real Redis: seqs, epochs, trimming, duplicates."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from hub.cluster.manager import MessageTooLarge
from hub.cluster.streams import RedisStream
from hub.services.stream_types import Draft, StreamUnavailable
from shared.namespaces import Namespace
from tests.support import free_port


def draft(n: int, company: str = "acme", event_id: str | None = None) -> Draft:
    payload = {"correlationId": f"corr-rs-{n:05d}", "orderId": f"o{n}", "status": "new"}
    return Draft(company, None, Namespace.ORDERS, "newOrder", payload, event_id, {"n": n})


@pytest.fixture
async def stream(redis_url: str) -> AsyncIterator[RedisStream]:
    backend = RedisStream(
        redis_url,
        f"chit-rs-{uuid.uuid4().hex[:8]}",
        max_events=10,
        max_age=1.0,
        max_message_bytes=4096,
    )
    try:
        yield backend
    finally:
        keys = [k async for k in backend.redis.scan_iter(f"{backend.prefix}:*")]
        if keys:
            await backend.redis.delete(*keys)
        await backend.stop()


async def test_seqs_per_company_under_one_epoch(stream: RedisStream) -> None:
    head = await stream.head("acme")
    assert (head.seq, head.first) == (0, None)
    entries = [(await stream.append(draft(n))).entry for n in range(1, 4)]
    assert [e.offset.seq for e in entries if e] == [1, 2, 3]
    assert {e.offset.epoch for e in entries if e} == {head.epoch}
    assert (await stream.append(draft(1, "globex"))).entry.offset.seq == 1  # type: ignore[union-attr]
    read = await stream.read("acme", 1, 10)
    assert [(e.seq, e.payload["orderId"]) for e in read] == [(2, "o2"), (3, "o3")]
    assert (await stream.head("acme")).seq == 3


async def test_a_duplicate_returns_the_first_answer(stream: RedisStream) -> None:
    first = await stream.append(draft(1, event_id="evt-1"))
    again = await stream.append(draft(2, event_id="evt-1"))
    assert first.entry is not None and again.entry is None
    assert again.first_answer == {"n": 1, "offset": first.entry.offset.to_wire()}
    assert (await stream.head("acme")).seq == 1


async def test_streams_are_trimmed_by_count_and_by_age(stream: RedisStream) -> None:
    for n in range(1, 301):
        await stream.append(draft(n))
    head = await stream.head("acme")
    assert head.seq == 300 and head.first is not None and 1 < head.first <= 291  # MAXLEN ~
    await asyncio.sleep(1.1)
    await stream.append(draft(301))  # the append trims what is past the age
    head = await stream.head("acme")
    assert head.first is not None and head.first > 240
    await asyncio.sleep(1.1)
    await stream.append(draft(302))
    assert (await stream.head("acme")).first == 302


async def test_a_lost_history_starts_a_new_epoch(stream: RedisStream) -> None:
    await stream.append(draft(1))
    old = await stream.head("acme")
    await stream.redis.delete(stream.key("stream", "acme"), stream.key("stream", "acme", "meta"))
    new = await stream.head("acme")
    assert new.epoch != old.epoch and (new.seq, new.first) == (0, None)
    assert (await stream.append(draft(2))).entry.offset.epoch == new.epoch  # type: ignore[union-attr]


async def test_too_large_is_refused_and_unreachable_is_unavailable(stream: RedisStream) -> None:
    huge = Draft("acme", None, Namespace.ORDERS, "newOrder", {"notes": "x" * 5000})
    with pytest.raises(MessageTooLarge):
        await stream.append(huge)
    assert (await stream.head("acme")).seq == 0
    dead = RedisStream(
        f"redis://127.0.0.1:{free_port()}/0", "x", max_events=1, max_age=1, max_message_bytes=99
    )
    try:
        with pytest.raises(StreamUnavailable):
            await dead.head("acme")
        with pytest.raises(StreamUnavailable):
            await dead.append(draft(1))
    finally:
        await dead.stop()
