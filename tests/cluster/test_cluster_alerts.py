"""Alerts do not depend on where you look: reconnects counted cluster-wide, gauges everywhere."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from shared.tokens import Role
from tests.cluster.support import Cluster, HubProc, harness_for
from tests.support import HubHarness, Recorder

LIMIT = "3"  # reconnects per minute above which the alert is raised


async def _connect(hubs: Cluster, index: int, token: str) -> Recorder:
    return await harness_for(hubs.hubs[index]).connect(token, ["/orders"])


async def _gauges(url: str) -> dict[str, float]:
    """This instance's ``chit_alerts_active`` by kind, and ``chit_cluster_deaf``."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(url + "/metrics") as resp,
    ):
        text = await resp.text()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "chit_alerts_active":
                out[sample.labels["kind"]] = sample.value
            elif sample.name == "chit_cluster_deaf":
                out["deaf"] = sample.value
    return out


async def _gauge_reads(url: str, name: str, value: float, within: float = 5.0) -> None:
    """Wait until this instance's ``name`` gauge reads ``value``; fail after ``within`` s."""
    seen: float | None = None
    try:
        async with asyncio.timeout(within):
            while (seen := (await _gauges(url))[name]) != value:
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{name} still read {seen} after {within} s, not {value}") from None


async def _reconnect_alerts(hubs: Cluster, hub: HubProc) -> list[str]:
    """Subjects of the raised reconnect-rate alerts, as acme's manager sees them on ``hub``."""
    token = hubs.token(Role.MANAGER, "acme")
    _, body = await hubs.request(hub, "GET", "/api/v1/alerts", token)
    return [a["subject"] for a in body["active"] if a["kind"] == "reconnect_rate"]


async def test_many_tabs_of_one_user_raise_no_reconnect_alert(
    redis_url: str, tmp_path: Path
) -> None:
    hubs = Cluster(redis_url, tmp_path, 2, CHIT_HUB_ALERT_RECONNECTS_PER_MINUTE=LIMIT)
    await hubs.start()
    try:
        token = hubs.token(Role.STAFF, "acme", sub="thirteen-tabs")
        tabs = await asyncio.gather(*[_connect(hubs, i % 2, token) for i in range(13)])
        await asyncio.sleep(3.0)  # six evaluations at CHIT_HUB_ALERT_INTERVAL=0.5
        for hub in hubs.hubs:
            assert await _reconnect_alerts(hubs, hub) == []
            assert (await _gauges(hub.url))["reconnect_rate"] == 0
        for tab in tabs:
            await tab.close()
    finally:
        hubs.stop()


async def test_reconnects_split_across_instances_raise_one_alert_seen_everywhere(
    redis_url: str, tmp_path: Path
) -> None:
    hubs = Cluster(redis_url, tmp_path, 2, CHIT_HUB_ALERT_RECONNECTS_PER_MINUTE=LIMIT)
    await hubs.start()
    try:
        token = hubs.token(Role.STAFF, "acme", sub="flappy")
        for i in range(5):  # 3 connects on instance 0, 2 on instance 1: 4 reconnects in all
            client = await _connect(hubs, i % 2, token)
            await client.close()
            await asyncio.sleep(0.2)

        async def seen_everywhere() -> bool:
            subjects = [await _reconnect_alerts(hubs, hub) for hub in hubs.hubs]
            gauges = [(await _gauges(hub.url))["reconnect_rate"] for hub in hubs.hubs]
            return all(len(s) == 1 for s in subjects) and gauges == [1.0, 1.0]

        async with asyncio.timeout(10):
            while not await seen_everywhere():
                await asyncio.sleep(0.2)
        [subject] = await _reconnect_alerts(hubs, hubs.hubs[0])
        assert subject == (await _reconnect_alerts(hubs, hubs.hubs[1]))[0]
        assert subject.endswith("|flappy")
    finally:
        hubs.stop()


async def test_deaf_gauge_changes_without_anyone_asking(redis_url: str, tmp_path: Path) -> None:
    hub = await HubHarness.start(
        tmp_path / "a",
        redis_url=redis_url,
        cluster_prefix=f"chit-deafgauge-{os.getpid()}",
        alert_interval=0.2,
    )
    try:
        bus = hub.ctx.cluster.bus  # type: ignore[union-attr]
        # The pinger is asleep for the default interval it started with: the gauge reads 0
        # once the first ping at the new pace is heard (the start alone can take longer than
        # deaf_after on a loaded machine, which read 1 here in one CI run).
        bus.ping_interval, bus.deaf_after = 0.1, 0.6
        await _gauge_reads(hub.url, "deaf", 0)
        await bus.pubsub.unsubscribe(bus.channel)  # still connected, no longer subscribed
        await _gauge_reads(hub.url, "deaf", 1)  # /metrics only: no /healthz, no /readyz
    finally:
        await hub.stop()
