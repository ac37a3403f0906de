"""The outbox: nothing published with a 202 is lost while Redis is away, nothing appended twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hub.cluster.streams import RedisStream
from hub.services.outbox import Outbox, OutboxedStream
from hub.services.stream_types import Draft, StreamUnavailable
from shared.namespaces import Namespace
from shared.tokens import Role
from tests.cluster.support import OwnRedis
from tests.support import HubHarness, free_port, settle


def draft(n: int, event_id: str | None = None) -> Draft:
    payload = {"correlationId": f"corr-outbox-{n:04d}", "orderId": f"o{n}", "status": "new"}
    answer = {"ok": True, "event": "newOrder"}
    return Draft("acme", None, Namespace.ORDERS, "newOrder", payload, event_id, answer)


@contextlib.asynccontextmanager
async def redis_stream(url: str) -> AsyncIterator[RedisStream]:
    stream = RedisStream(
        url, "chit-outbox-test", max_events=1000, max_age=3600, max_message_bytes=1 << 20
    )
    try:
        yield stream
    finally:
        await stream.stop()


async def test_drafts_wait_in_order_and_survive_a_reopen(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    drafts = [draft(n, f"evt-{n}" if n == 2 else None) for n in range(1, 4)]
    for each in drafts:
        assert await outbox.put(each) is None
    await outbox.close()
    reopened = Outbox(tmp_path / "outbox.db")
    try:
        rows = await reopened.oldest()
        assert [d for _, d in rows] == drafts  # whole: payload, ids, answer, nonce
        await reopened.remove(rows[0][0])
        assert await reopened.count() == 2
    finally:
        await reopened.close()


async def test_an_event_id_waits_once(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        assert await outbox.put(draft(1, "evt-1")) is None
        first = await outbox.put(draft(2, "evt-1"))
        assert first == {"ok": True, "event": "newOrder", "offset": None, "queued": True}
        assert await outbox.count() == 1
    finally:
        await outbox.close()


async def test_queued_while_redis_is_down_appended_in_order_when_back(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    async with redis_stream(own_redis.url) as backend:
        outboxed = OutboxedStream(backend, Outbox(tmp_path / "outbox.db"))
        assert (await outboxed.append(draft(1))).entry is not None  # Redis up: straight in
        own_redis.stop()
        for n in range(2, 6):
            assert (await outboxed.append(draft(n))).queued
        assert outboxed.backlog
        with pytest.raises(StreamUnavailable):
            await outboxed.flush()
        own_redis.start()  # no persistence: a new epoch, the queued ones start it
        await backend.redis.ping()
        assert (await outboxed.append(draft(6))).queued  # behind the backlog, not before it
        assert await outboxed.flush() == 5
        assert not outboxed.backlog
        entries = await backend.read("acme", 0, 100)
        assert [e.payload["orderId"] for e in entries] == ["o2", "o3", "o4", "o5", "o6"]
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
        await outboxed.outbox.close()


async def test_a_flush_retried_after_a_lost_reply_appends_once(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    async with redis_stream(own_redis.url) as backend:
        outbox = Outbox(tmp_path / "outbox.db")
        outboxed = OutboxedStream(backend, outbox)
        lost = draft(1)
        assert (await backend.append(lost)).entry is not None  # Redis took it; the reply was lost
        await outbox.put(lost)  # ... so the hub kept it, and flushes it again
        await outbox.put(draft(2))
        assert await outboxed.flush() == 2
        entries = await backend.read("acme", 0, 100)
        assert [e.payload["orderId"] for e in entries] == ["o1", "o2"]
        await outbox.close()


async def test_redis_down_the_api_answers_202_queued(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    hub = await HubHarness.start(tmp_path / "hub", redis_url=dead, cluster_prefix="dead")
    try:
        client = await hub.connect(hub.token(Role.STAFF, "acme"), ["/orders"])
        body = {"namespace": "/orders", "event": "newOrder", "companyId": "acme"}
        body |= {"eventId": "evt-q", "payload": draft(1).payload}
        service = hub.token(Role.SERVICE, None)
        status, first = await hub.post("/api/v1/events", body, token=service)
        assert (status, first["queued"], first["offset"]) == (202, True, None)
        status, again = await hub.post("/api/v1/events", body, token=service)
        assert (status, again["duplicate"], again["queued"]) == (202, True, True)
        assert await hub.ctx.streams.outboxed.outbox.count() == 1  # type: ignore[union-attr]
        await settle(0.3)
        assert client.events("/orders") == []  # it reaches clients from the stream, later
    finally:
        await hub.stop()


async def test_neither_redis_nor_outbox_is_a_503_with_retry_after(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    hub = await HubHarness.start(
        tmp_path / "hub",
        redis_url=dead,
        cluster_prefix="dead",
        stream_outbox_path=Path("/proc/chit-no-such-dir/outbox.db"),  # cannot be created
    )
    try:
        client = await hub.connect(hub.token(Role.STAFF, "acme"), ["/orders"])
        hdrs = {"Authorization": f"Bearer {hub.token(Role.SERVICE, None)}"}
        body = {"namespace": "/orders", "event": "newOrder", "companyId": "acme"}
        body["payload"] = draft(1).payload
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.post(hub.url + "/api/v1/events", json=body, headers=hdrs) as resp,
        ):
            assert resp.status == 503
            assert resp.headers["Retry-After"] == "2"
            answer = await resp.json()
        assert answer["code"] == "stream_unavailable" and "retry" in answer["message"]
        await asyncio.sleep(0.3)
        assert client.events("/orders") == []
    finally:
        await hub.stop()


async def test_events_left_by_a_previous_run_go_first(redis_url: str, tmp_path: Path) -> None:
    left = Outbox(tmp_path / "outbox.db")
    await left.put(draft(1))  # a hub stopped with this still waiting
    await left.close()
    stream = RedisStream(
        redis_url, f"chit-resume-{free_port()}", max_events=100, max_age=60, max_message_bytes=4096
    )
    outboxed = OutboxedStream(stream, Outbox(tmp_path / "outbox.db"))
    try:
        await outboxed.resume()
        assert outboxed.backlog
        assert (await outboxed.append(draft(2))).queued  # Redis is up, yet it waits its turn
        assert await outboxed.flush() == 2
        entries = await stream.read("acme", 0, 10)
        assert [e.payload["orderId"] for e in entries] == ["o1", "o2"]
    finally:
        keys = [k async for k in stream.redis.scan_iter(f"{stream.prefix}:*")]
        if keys:
            await stream.redis.delete(*keys)
        await stream.stop()
        await outboxed.outbox.close()
