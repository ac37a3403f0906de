"""Company streams on one hub (database backend): offsets, replay on reconnect, eventId."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from hub.store.models import StreamHead
from shared.tokens import Role
from tests.support import HubHarness, Recorder, settle

ORDERS, STOCK, PRINTING = "/orders", "/availability", "/printing-ws"


def order(i: int, **extra: Any) -> dict[str, Any]:
    """A newOrder payload numbered ``i``."""
    return {"correlationId": f"corr-stream-{i:05d}", "orderId": f"o{i}", "status": "new", **extra}


async def publish_orders(
    hub: HubHarness, numbers: range, company: str = "acme", branch: str | None = None
) -> list[dict[str, Any]]:
    """Publish newOrder ``numbers`` one after the other; their answers."""
    answers = []
    for i in numbers:
        status, body = await hub.publish("newOrder", order(i), company=company, branch=branch)
        assert status == 202, body
        answers.append(body)
    return answers


def order_ids(client: Recorder, namespace: str = ORDERS) -> list[str]:
    return [e["orderId"] for e in client.events(namespace, "newOrder")]


def seqs(client: Recorder, namespace: str = ORDERS) -> list[int]:
    return [e["_offset"]["seq"] for e in client.events(namespace)]


async def test_offsets_on_events_and_the_head_at_connect(hub: HubHarness) -> None:
    first = await hub.connect(hub.token(Role.STAFF, "acme"), [ORDERS])
    status = await first.wait_status(ORDERS)
    assert (status["recovered"], status["code"], status["offset"]["seq"]) == (
        False,
        "offset_missing",
        0,
    )
    epoch = status["offset"]["epoch"]
    answers = await publish_orders(hub, range(1, 4))
    got = await first.wait_for(ORDERS, "newOrder", 3)
    assert [a["offset"] for a in answers] == [e["_offset"] for e in got]
    assert [e["_offset"] for e in got] == [
        {"stream": "acme", "epoch": epoch, "seq": n} for n in (1, 2, 3)
    ]
    assert got[0] == {**order(1), "_offset": answers[0]["offset"]}
    later = await hub.connect(hub.token(Role.STAFF, "acme"), [ORDERS])
    assert (await later.wait_status(ORDERS))["offset"] == answers[-1]["offset"]


async def test_a_client_back_gets_exactly_what_it_missed_then_live(hub: HubHarness) -> None:
    token = hub.token(Role.STAFF, "acme")
    client = await hub.connect(token, [ORDERS])
    await publish_orders(hub, range(1, 4))
    await client.wait_for(ORDERS, "newOrder", 3)
    since = client.events(ORDERS)[-1]["_offset"]
    await client.close()
    await publish_orders(hub, range(4, 14))
    back = await hub.connect(token, [ORDERS], since=since)
    status = await back.wait_status(ORDERS)
    assert (status["recovered"], status["replayed"], status["offset"]["seq"]) == (True, 10, 13)
    assert order_ids(back) == [f"o{i}" for i in range(4, 14)]
    await publish_orders(hub, range(14, 16))
    await back.wait_for(ORDERS, "newOrder", 12)
    await settle()
    assert seqs(back) == list(range(4, 16))  # in order, no gap, no duplicate
    again = await hub.connect(token, [ORDERS], since=status["offset"])
    assert (await again.wait_status(ORDERS))["replayed"] == 2


async def test_replay_keeps_to_the_namespace_and_the_branch(hub: HubHarness) -> None:
    token = hub.token(Role.STAFF, "acme", "b2")
    client = await hub.connect(token, [ORDERS, STOCK])
    since = (await client.wait_status(ORDERS))["offset"]
    await client.close()
    await hub.publish("newOrder", order(1), branch="b1")  # another branch: never for b2
    await hub.publish("newOrder", order(2), branch="b2")
    await hub.publish("newOrder", order(3))  # company-wide
    stock = {"correlationId": "corr-stock-0001", "itemId": "i1", "level": "out"}
    await hub.publish("stockAlert", stock, namespace=STOCK)
    await hub.publish("newOrder", order(4), company="bistro", branch="b9")
    back = await hub.connect(token, [ORDERS, STOCK], since=since)
    status = await back.wait_status(ORDERS)
    assert (status["recovered"], status["replayed"]) == (True, 2)
    assert order_ids(back) == ["o2", "o3"]
    assert (await back.wait_status(STOCK))["replayed"] == 1
    assert [e["itemId"] for e in back.events(STOCK)] == ["i1"]
    await hub.publish("newOrder", order(5), branch="b1")  # live: the same rule
    await hub.publish("newOrder", order(6), branch="b2")
    await back.wait_for(ORDERS, "newOrder", 3)
    await settle()
    assert order_ids(back) == ["o2", "o3", "o6"]


async def test_events_published_during_a_replay_are_neither_lost_nor_doubled(
    hub: HubHarness, caplog: pytest.LogCaptureFixture
) -> None:
    assert hub.ctx.streams is not None
    token = hub.token(Role.STAFF, "acme")
    client = await hub.connect(token, [ORDERS])
    since = (await client.wait_status(ORDERS))["offset"]
    await client.close()
    await publish_orders(hub, range(1, 301))
    hub.ctx.streams.replay_batch = 2  # 150 round trips: publishing overlaps the replay
    caplog.set_level(logging.INFO, "chit.hub.streams")
    connecting = asyncio.create_task(hub.connect(token, [ORDERS], since=since))
    live = asyncio.create_task(publish_orders(hub, range(301, 341)))
    back = await connecting
    await live
    await back.wait_for(ORDERS, "newOrder", 340, timeout=20)
    await settle()
    assert seqs(back) == list(range(1, 341))
    assert order_ids(back) == [f"o{i}" for i in range(1, 341)]
    status = back.statuses[ORDERS][0]
    assert status["recovered"] is True
    # Some of the live ones were held back during the replay and sent after it.
    # (A client that reconnected under load is handed over once per connection.)
    handed = [r for r in caplog.records if r.getMessage() == "client handed over"]
    assert any(r.buffered > 0 for r in handed)  # type: ignore[attr-defined]
    assert status["replayed"] < 340


async def test_a_crafted_since_recovers_nothing_and_says_why(hub: HubHarness) -> None:
    bistro = await hub.connect(hub.token(Role.STAFF, "bistro"), [ORDERS])
    bistro_head = (await bistro.wait_status(ORDERS))["offset"]
    await publish_orders(hub, range(1, 6), company="bistro")
    await publish_orders(hub, range(6, 8))
    acme = hub.token(Role.STAFF, "acme")
    mine = (await (await hub.connect(acme, [ORDERS])).wait_status(ORDERS))["offset"]
    cases = {
        "offset_foreign": bistro_head,  # bistro's stream, bistro's real epoch
        "offset_invalid": {"stream": "acme", "epoch": mine["epoch"], "seq": "0"},
        "offset_epoch": {**mine, "epoch": "another-epoch", "seq": 0},
        "offset_unknown": {**mine, "seq": 999},
    }
    for code, since in cases.items():
        client = await hub.connect(acme, [ORDERS], since=since)
        status = await client.wait_status(ORDERS)
        assert (status["recovered"], status["code"], status["replayed"]) == (False, code, 0)
        assert status["offset"] == mine and status["message"]
        await settle(0.1)
        assert client.events(ORDERS) == []
    assert len(bistro.events(ORDERS)) == 5


async def test_events_past_the_retention_are_not_replayed(tmp_path: Path) -> None:
    hub = await HubHarness.start(tmp_path / "hub", stream_max_events=5)
    try:
        token = hub.token(Role.STAFF, "acme")
        client = await hub.connect(token, [ORDERS])
        since = (await client.wait_status(ORDERS))["offset"]
        await client.close()
        await publish_orders(hub, range(1, 71))  # trimmed to the last 5 at seq 64
        back = await hub.connect(token, [ORDERS], since=since)
        status = await back.wait_status(ORDERS)
        assert (status["recovered"], status["code"]) == (False, "offset_expired")
        assert status["offset"]["seq"] == 70
        recent = await hub.connect(token, [ORDERS], since={**since, "seq": 64})
        assert (await recent.wait_status(ORDERS))["recovered"] is True
        assert order_ids(recent) == [f"o{i}" for i in range(65, 71)]
    finally:
        await hub.stop()


async def test_the_same_event_id_is_broadcast_once(hub: HubHarness) -> None:
    client = await hub.connect(hub.token(Role.STAFF, "acme"), [ORDERS])
    other = await hub.connect(hub.token(Role.STAFF, "bistro"), [ORDERS])
    service = hub.token(Role.SERVICE, None)
    body = {"namespace": ORDERS, "event": "newOrder", "companyId": "acme", "eventId": "evt-1"}
    first_status, first = await hub.post(
        "/api/v1/events", {**body, "payload": order(1)}, token=service
    )
    again_status, again = await hub.post(
        "/api/v1/events", {**body, "payload": order(2, note="a retry")}, token=service
    )
    assert (first_status, again_status) == (202, 202)
    assert first["eventId"] == "evt-1" and "duplicate" not in first
    assert again == {**first, "duplicate": True}  # the first answer, offset included
    bistro = {**body, "companyId": "bistro", "payload": order(3)}
    status, theirs = await hub.post("/api/v1/events", bistro, token=service)
    assert status == 202 and "duplicate" not in theirs  # ids are per company
    await other.wait_for(ORDERS, "newOrder")
    await client.wait_for(ORDERS, "newOrder")
    await settle(0.3)
    assert order_ids(client) == ["o1"]


async def test_a_payload_cannot_bring_its_own_offset(hub: HubHarness) -> None:
    forged = order(1, _offset={"stream": "acme", "epoch": "x", "seq": 1})
    status, body = await hub.publish("newOrder", forged)
    assert (status, body["code"], body["field"]) == (422, "reserved_field", "payload._offset")


async def test_replay_and_event_ids_survive_a_hub_restart(tmp_path: Path) -> None:
    first = await HubHarness.start(tmp_path / "hub")
    token = first.token(Role.STAFF, "acme")
    client = await first.connect(token, [ORDERS])
    await publish_orders(first, range(1, 3))
    await client.wait_for(ORDERS, "newOrder", 2)
    since = client.events(ORDERS)[-1]["_offset"]
    await publish_orders(first, range(3, 6))  # the client is gone with the hub
    body = {"namespace": ORDERS, "event": "newOrder", "companyId": "acme", "eventId": "evt-r"}
    service = first.token(Role.SERVICE, None)
    _, answered = await first.post("/api/v1/events", {**body, "payload": order(6)}, token=service)
    await first.stop()
    second = await HubHarness.start(tmp_path / "hub")
    try:
        status, again = await second.post(
            "/api/v1/events", {**body, "payload": order(7)}, token=service
        )
        assert (status, again) == (202, {**answered, "duplicate": True})
        back = await second.connect(token, [ORDERS], since=since)
        state = await back.wait_status(ORDERS)
        assert (state["recovered"], state["replayed"]) == (True, 4)
        assert order_ids(back) == ["o3", "o4", "o5", "o6"]
        await publish_orders(second, range(8, 9))
        await back.wait_for(ORDERS, "newOrder", 5)
        assert seqs(back) == [3, 4, 5, 6, 7]
    finally:
        await second.stop()


async def test_lost_history_means_reload(hub: HubHarness) -> None:
    token = hub.token(Role.STAFF, "acme")
    client = await hub.connect(token, [ORDERS])
    await publish_orders(hub, range(1, 3))
    await client.wait_for(ORDERS, "newOrder", 2)
    since = client.events(ORDERS)[-1]["_offset"]
    async with hub.ctx.db.session() as s:  # as a database restored from an old backup would
        await s.execute(delete(StreamHead))
    await publish_orders(hub, range(3, 4))
    back = await hub.connect(token, [ORDERS], since=since)
    status = await back.wait_status(ORDERS)
    assert (status["recovered"], status["code"]) == (False, "offset_epoch")
    assert status["offset"]["epoch"] != since["epoch"] and status["offset"]["seq"] == 1
    assert back.events(ORDERS) == []


async def test_printing_events_are_streamed_and_replayed(hub: HubHarness) -> None:
    agent = await hub.connect(hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-s"), [PRINTING])
    hello = {"agentId": "agent-s", "hostname": "pc", "os": "linux", "version": "1"}
    assert (await agent.call(PRINTING, "agent:hello", hello))["ok"]
    printer = {
        "printerId": "net:127.0.0.1:9100",
        "name": "Kitchen",
        "connection": "network",
        "source": "manual",
        "host": "127.0.0.1",
        "port": 9100,
    }
    inventory = {"agentId": "agent-s", "printers": [printer]}
    assert (await agent.call(PRINTING, "agent:inventory", inventory))["ok"]
    token = hub.token(Role.MANAGER, "acme")
    manager = await hub.connect(token, [PRINTING])
    since = (await manager.wait_status(PRINTING))["offset"]
    await manager.close()
    update = {
        "agentId": "agent-s",
        "printerId": printer["printerId"],
        "status": {"state": "paper_out", "online": True},
    }
    assert (await agent.call(PRINTING, "printerStatusUpdate", update))["ok"]
    back = await hub.connect(token, [PRINTING], since=since)
    assert (await back.wait_status(PRINTING))["replayed"] == 1
    [replayed] = back.events(PRINTING, "printerStatusUpdate")
    assert replayed["status"]["state"] == "paper_out" and replayed["_offset"]["seq"] == 1
    assert back.events(PRINTING, "agent:status") == []  # presence is not streamed
    assert agent.statuses[PRINTING] == []  # agents get live events, no stream status


async def test_with_streams_off_events_are_plain_broadcasts(tmp_path: Path) -> None:
    hub = await HubHarness.start(tmp_path / "hub", stream_enabled=False)
    try:
        client = await hub.connect(hub.token(Role.STAFF, "acme"), [ORDERS])
        status, body = await hub.publish("newOrder", order(1))
        assert status == 202 and "offset" not in body
        assert await client.wait_for(ORDERS, "newOrder") == [order(1)]
        assert client.statuses[ORDERS] == []
    finally:
        await hub.stop()


async def test_concurrent_publishes_get_distinct_offsets_delivered_in_order(
    hub: HubHarness,
) -> None:
    client = await hub.connect(hub.token(Role.STAFF, "acme"), [ORDERS])
    await client.wait_status(ORDERS)
    answers = await asyncio.gather(*(hub.publish("newOrder", order(i)) for i in range(1, 61)))
    assert all(status == 202 for status, _ in answers)
    assert sorted(body["offset"]["seq"] for _, body in answers) == list(range(1, 61))
    await client.wait_for(ORDERS, "newOrder", 60)
    assert seqs(client) == list(range(1, 61))  # committed in groups, delivered in seq order
    by_order = {body["correlationId"]: body["offset"] for _, body in answers}
    assert all(by_order[e["correlationId"]] == e["_offset"] for e in client.events(ORDERS))


async def test_group_commit_under_concurrent_publishers_replays_exactly_once(
    any_hub: HubHarness,
) -> None:
    """Singles and batches published together share transactions; a client that leaves and
    comes back with its last offset gets every event once, in seq order (both databases)."""
    hub = any_hub
    assert hub.ctx.streams is not None
    token = hub.token(Role.STAFF, "acme")
    watcher = await hub.connect(token, [ORDERS])
    leaver = await hub.connect(token, [ORDERS])
    await watcher.wait_status(ORDERS)
    await leaver.wait_status(ORDERS)
    service = hub.token(Role.SERVICE, None)

    async def batch(first: int) -> None:
        events = [
            {"namespace": ORDERS, "event": "newOrder", "companyId": "acme", "payload": order(i)}
            for i in range(first, first + 50)
        ]
        status, body = await hub.post("/api/v1/events/batch", {"events": events}, token=service)
        assert status == 200 and all(r["status"] == 202 for r in body["results"]), body

    async def singles(numbers: range) -> None:
        await publish_orders(hub, numbers)

    commits = getattr(hub.ctx.streams.backend, "commits", 0)
    first_half = [singles(range(i, 1000 + 200, 20)) for i in range(1000, 1020)]
    await asyncio.gather(*first_half, batch(1), batch(51))
    await leaver.wait_for(ORDERS, "newOrder", 300)
    since = leaver.events(ORDERS)[-1]["_offset"]
    await leaver.close()
    second = [singles(range(i, 2000 + 200, 10)) for i in range(2000, 2010)]
    await asyncio.gather(*second, batch(101), batch(151))
    back = await hub.connect(token, [ORDERS], since=since)
    await watcher.wait_for(ORDERS, "newOrder", 600, timeout=30)
    await back.wait_for(ORDERS, "newOrder", 300, timeout=30)
    await settle()
    assert getattr(hub.ctx.streams.backend, "commits", 0) - commits < 600 // 4
    assert seqs(watcher) == list(range(1, 601))
    assert seqs(leaver)[:300] == list(range(1, 301))
    assert seqs(back) == list(range(301, 601))  # exactly the missed ones, once, in order
    assert back.statuses[ORDERS][0]["recovered"] is True
    everything = sorted(order_ids(watcher))
    assert sorted(order_ids(leaver) + order_ids(back)) == everything
    assert len(set(everything)) == 600
