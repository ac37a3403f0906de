"""Streams across a cluster: exact replay on any instance, one delivery per eventId, nothing lost
while Redis is down, a Redis without its data says so, offsets never cross tenants."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from hub.cluster.streams import RedisStream
from shared.tokens import Role
from tests.cluster.support import ROOT, Cluster, HubProc, OwnRedis, harness_for
from tests.support import HubHarness, Recorder, settle, wait_healthy

ORDERS = "/orders"
SCRIPT = ROOT / "tests" / "js" / "replay_client.mjs"
needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "socket.io-client").exists(),
    reason="needs node and `npm ci` (scripts/test.sh runs it)",
)


def order(i: int) -> dict[str, Any]:
    return {"correlationId": f"corr-cs-{i:05d}", "orderId": f"o{i}", "status": "new"}


async def publish(hub: HubProc, i: int, company: str = "acme", **extra: Any) -> dict[str, Any]:
    """Publish newOrder ``i`` through one instance; its 202 answer."""
    status, body = await harness_for(hub).publish("newOrder", {**order(i), **extra}, company)
    assert status == 202, body
    return dict(body)


async def connect(
    hubs: Cluster, index: int, company: str = "acme", since: dict[str, Any] | None = None
) -> Recorder:
    return await harness_for(hubs.hubs[index]).connect(
        hubs.token(Role.STAFF, company), [ORDERS], since=since
    )


def ids(client: Recorder) -> list[str]:
    return [e["orderId"] for e in client.events(ORDERS, "newOrder")]


class Node:
    """The official socket.io-client in node, through hub/web/static/streams.js."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, namespace: str, token: str) -> Node:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            namespace,
            token,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        node = cls(proc)
        await node.until(lambda line: "ready" in line)
        return node

    async def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()

    async def until(
        self, done: Callable[[dict[str, Any]], bool], timeout: float = 20
    ) -> list[dict[str, Any]]:
        """Lines read until one satisfies ``done`` (that one included)."""
        assert self.proc.stdout is not None
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                line = json.loads(await self.proc.stdout.readline())
                self.lines.append(line)
                got.append(line)
                if done(line):
                    return got

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (nothing, when nothing should)."""
        try:
            return await self.until(lambda _: False, seconds)
        except TimeoutError:
            return []

    async def close(self) -> None:
        if self.proc.returncode is None:
            await self.send("exit")
            await asyncio.wait_for(self.proc.wait(), 10)


def events_of(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line["payload"] for line in lines if line.get("event") == "newOrder"]


@needs_node
async def test_js_client_replays_on_another_instance_exactly_what_it_missed(
    cluster: Cluster,
) -> None:
    first, other = cluster.hubs[0], cluster.hubs[2]
    stranger = await connect(cluster, 1, "bistro")
    node = await Node.start(ORDERS, cluster.token(Role.STAFF, "acme"))
    try:
        await node.send(f"connect {first.url}")
        [*_, fresh] = await node.until(lambda line: "reload" in line)
        assert fresh["reload"]["code"] == "offset_missing"
        for i in (1, 2):
            await publish(first, i)
        before = events_of(await node.until(lambda line: line.get("event") == "newOrder"))
        before += events_of(await node.until(lambda line: line.get("event") == "newOrder"))
        await node.send("disconnect")
        await node.until(lambda line: "disconnected" in line)

        missed = range(3, 53)
        for i in missed:  # through all three instances in turn
            await publish(cluster.hubs[i % 3], i)
        await node.send(f"connect {other.url}")
        lines = await node.until(lambda line: "recovered" in line)
        [connected] = [line for line in lines if "connected" in line]
        assert connected["since"] == before[-1]["_offset"]
        replayed = events_of(lines)
        assert [e["orderId"] for e in replayed] == [f"o{i}" for i in missed]
        assert [e["_offset"]["seq"] for e in replayed] == list(range(3, 53))
        assert lines[-1]["recovered"]["replayed"] == 50

        for i in range(53, 58):  # then live, from any instance
            await publish(cluster.hubs[i % 3], i)
        live = [await node.until(lambda line: line.get("event") == "newOrder") for _ in range(5)]
        assert [events_of(x)[0]["_offset"]["seq"] for x in live] == list(range(53, 58))
        assert events_of(await node.quiet(1.0)) == []  # no duplicate of anything
        assert stranger.events(ORDERS) == []
    finally:
        await node.close()
        await stranger.close()


async def test_the_same_event_id_through_two_instances_is_delivered_once(
    cluster: Cluster,
) -> None:
    clients = [await connect(cluster, i) for i in range(3)]
    for client in clients:
        await client.wait_status(ORDERS)
    body = {"namespace": ORDERS, "event": "newOrder", "companyId": "acme", "eventId": "evt-c1"}
    service = cluster.token(Role.SERVICE, None)
    status, first = await cluster.request(
        cluster.hubs[0], "POST", "/api/v1/events", service, {**body, "payload": order(1)}
    )
    assert status == 202
    status, again = await cluster.request(
        cluster.hubs[1], "POST", "/api/v1/events", service, {**body, "payload": order(2)}
    )
    assert (status, again) == (202, {**first, "duplicate": True})
    for client in clients:
        await client.wait_for(ORDERS, "newOrder")
    await publish(cluster.hubs[2], 3)  # a marker behind it: everything before it has arrived
    for client in clients:
        await client.wait_for(ORDERS, "newOrder", 2)
        assert ids(client) == ["o1", "o3"]


async def test_nothing_is_lost_while_redis_is_down_for_ten_seconds(tmp_path: Path) -> None:
    redis_server = OwnRedis(persist_dir=tmp_path / "redis")
    redis_server.start()
    hubs = Cluster(redis_server.url, tmp_path, 3)
    try:
        await hubs.start()
        clients = [await connect(hubs, i) for i in range(3)]
        returner = await connect(hubs, 1)
        for client in (*clients, returner):
            await client.wait_status(ORDERS)
        await publish(hubs.hubs[0], 0)
        for client in (*clients, returner):
            await client.wait_for(ORDERS, "newOrder")
        since = returner.events(ORDERS)[-1]["_offset"]
        await returner.close()

        redis_server.stop()
        stopped = asyncio.get_running_loop().time()
        sent: dict[int, list[str]] = {0: [], 1: [], 2: []}
        back: Recorder | None = None
        for i in range(1, 101):
            answer = await publish(hubs.hubs[i % 3], i)
            assert answer["queued"] is True and answer["offset"] is None
            sent[i % 3].append(f"o{i}")
            if i == 50:  # a client that comes back during the outage, to another instance
                back = await connect(hubs, 2, since=since)
        assert back is not None
        await asyncio.sleep(max(0.0, 10 - (asyncio.get_running_loop().time() - stopped)))
        redis_server.start()

        everyone = [*clients, back]
        for client in everyone:
            await client.wait_for(ORDERS, "newOrder", 101 if client is not back else 100, 40)
        await settle(1.0)
        order_seen = ids(clients[0])[1:]
        assert sorted(order_seen, key=lambda o: int(o[1:])) == [f"o{i}" for i in range(1, 101)]
        for client in everyone:
            got = ids(client)[1:] if client is not back else ids(client)
            assert got == order_seen  # all 100, once each, the same order everywhere
            seqs = [e["_offset"]["seq"] for e in client.events(ORDERS)]
            assert seqs == sorted(set(seqs))
        for instance, published in sent.items():  # each instance's events keep their order
            assert [o for o in order_seen if o in published] == published, instance
        status = back.statuses[ORDERS][0]
        assert status["recovered"] is True
    finally:
        hubs.stop()
        redis_server.stop()


async def test_a_redis_restarted_without_its_data_means_reload(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    hubs = Cluster(own_redis.url, tmp_path, 2)
    await hubs.start()
    try:
        staying = await connect(hubs, 0)
        leaving = await connect(hubs, 1)
        await publish(hubs.hubs[0], 1)
        for client in (staying, leaving):
            await client.wait_for(ORDERS, "newOrder")
        old = leaving.events(ORDERS)[-1]["_offset"]
        await leaving.close()
        own_redis.stop()  # no persistence: streams, epochs, everything gone
        own_redis.start()
        for hub in hubs.hubs:
            await wait_healthy(hub.url)
        answer = await publish(hubs.hubs[1], 2)
        [late] = (await staying.wait_for(ORDERS, "newOrder", 2, timeout=15))[1:]
        assert late["_offset"]["epoch"] != old["epoch"] and late["_offset"]["seq"] == 1
        assert answer["offset"] in (None, late["_offset"])  # None: it went through the outbox
        back = await connect(hubs, 1, since=old)
        status = await back.wait_status(ORDERS, timeout=15)
        assert (status["recovered"], status["code"]) == (False, "offset_epoch")
        assert status["offset"] == late["_offset"]  # the new epoch's head: the next since
        await settle(0.3)
        assert back.events(ORDERS) == []  # it reloads over REST instead
    finally:
        hubs.stop()


async def test_a_since_naming_another_company_recovers_nothing(cluster: Cluster) -> None:
    theirs = await connect(cluster, 0, "bistro")
    await publish(cluster.hubs[0], 1, company="bistro")
    [event] = await theirs.wait_for(ORDERS, "newOrder")
    their_offset = {**event["_offset"], "seq": 0}  # their stream, their real epoch
    await publish(cluster.hubs[1], 2, company="bistro")
    await publish(cluster.hubs[1], 3)
    for since, code in (
        (their_offset, "offset_foreign"),
        ({**their_offset, "stream": "acme"}, "offset_epoch"),
        ({"stream": "acme", "seq": 0}, "offset_invalid"),
    ):
        crafted = await connect(cluster, 2, "acme", since=since)
        status = await crafted.wait_status(ORDERS)
        assert (status["recovered"], status["code"], status["replayed"]) == (False, code, 0)
        assert status["offset"]["stream"] == "acme"
        await settle(0.3)
        assert crafted.events(ORDERS) == []


async def _redis_hub(path: Path, redis_url: str, prefix: str) -> HubHarness:
    return await HubHarness.start(path, redis_url=redis_url, cluster_prefix=prefix)


def _forget(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


async def test_publishing_on_another_instance_during_a_replay_loses_and_doubles_nothing(
    redis_url: str, tmp_path: Path
) -> None:
    prefix = f"chit-race-{uuid.uuid4().hex[:8]}"
    replaying = await _redis_hub(tmp_path / "a", redis_url, prefix)
    publishing = await _redis_hub(tmp_path / "b", redis_url, prefix)
    try:
        assert replaying.ctx.streams is not None
        token = replaying.token(Role.STAFF, "acme")
        first = await replaying.connect(token, [ORDERS])
        since = (await first.wait_status(ORDERS))["offset"]
        await first.close()
        for i in range(1, 201):
            status, _ = await publishing.publish("newOrder", order(i))
            assert status == 202
        replaying.ctx.streams.replay_batch = 4  # fifty round trips to Redis
        connecting = asyncio.create_task(replaying.connect(token, [ORDERS], since=since))

        async def live() -> None:
            for i in range(201, 241):
                await publishing.publish("newOrder", order(i))

        await asyncio.gather(connecting, live())
        back = connecting.result()
        await back.wait_for(ORDERS, "newOrder", 240, timeout=20)
        await settle(0.5)
        assert [e["_offset"]["seq"] for e in back.events(ORDERS)] == list(range(1, 241))
        assert ids(back) == [f"o{i}" for i in range(1, 241)]
        assert back.statuses[ORDERS][0]["recovered"] is True
    finally:
        await replaying.stop()
        await publishing.stop()
        _forget(redis_url, prefix)


async def test_entries_the_feed_skipped_are_read_from_the_stream(
    redis_url: str, tmp_path: Path
) -> None:
    prefix = f"chit-gap-{uuid.uuid4().hex[:8]}"
    hub = await _redis_hub(tmp_path / "a", redis_url, prefix)
    try:
        streams = hub.ctx.streams
        assert streams is not None and isinstance(streams.backend, RedisStream)
        client = await hub.connect(hub.token(Role.STAFF, "acme"), [ORDERS])
        await client.wait_status(ORDERS)
        await streams.backend.stop_feed()  # this instance stops reading the feed ...
        for i in range(1, 6):
            await hub.publish("newOrder", order(i))
        await streams.backend.redis.xtrim(f"{prefix}:feed", maxlen=0)  # ... which loses them
        await streams.backend.start(streams.deliver)
        await streams.backend.ready(5)
        await hub.publish("newOrder", order(6))
        await client.wait_for(ORDERS, "newOrder", 6, timeout=10)
        assert ids(client) == [f"o{i}" for i in range(1, 7)]
    finally:
        await hub.stop()
        _forget(redis_url, prefix)
