"""Connection counts through churn, alerts at their thresholds, /metrics that parses."""

from __future__ import annotations

import asyncio
import random

from prometheus_client.parser import text_string_to_metric_families

from hub.services.monitoring import AlertEngine, Monitor, Thresholds, imbalance
from shared.tokens import Role
from tests.hub.test_printer_tests import NS, _agent
from tests.support import ALL_NAMESPACES, HubHarness, Recorder, settle


class FakeClock:
    """Time that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _controlled(hub: HubHarness, **limits: float) -> FakeClock:
    """Swap the hub's alert engine for one with a fake clock and the given thresholds."""
    clock = FakeClock()
    monitor: Monitor = hub.ctx.observer
    old = monitor.engine
    monitor.engine = AlertEngine(Thresholds(**limits), old._emit, clock)  # type: ignore[arg-type]
    return clock


async def _connections(hub: HubHarness, token: str) -> dict:  # type: ignore[type-arg]
    status, body = await hub.get("/api/v1/connections", token)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def test_counts_match_real_clients_through_churn(hub: HubHarness) -> None:
    admin = hub.token(Role.OPERATOR, None)
    clients: list[Recorder] = []
    rng = random.Random(7)
    for _ in range(30):
        if clients and rng.random() < 0.4:
            await clients.pop(rng.randrange(len(clients))).close()
        else:
            company = rng.choice(["acme", "bistro"])
            namespaces = rng.sample(ALL_NAMESPACES, rng.randint(1, 3))
            clients.append(await hub.connect(hub.token(Role.STAFF, company), namespaces))
    agent = await _agent(hub)
    await settle(0.3)
    expected_total = sum(len(c.client.namespaces) for c in clients) + 1
    body = await _connections(hub, admin)
    assert body["total"] == expected_total
    assert body["byKind"] == {"web": expected_total - 1, "desktop": 1}
    assert sum(body["byNamespace"].values()) == expected_total
    assert body["instances"] == {hub.ctx.instance_id: expected_total}
    for client in clients:
        await client.close()
    await agent.close()
    await settle(0.3)
    assert (await _connections(hub, admin))["total"] == 0


async def test_connections_endpoint_is_for_admins(hub: HubHarness) -> None:
    status, body = await hub.get("/api/v1/connections", hub.token(Role.MANAGER, "acme"))
    assert (status, body["code"]) == (403, "role_not_allowed")
    await hub.connect(hub.token(Role.STAFF, "bistro"), ["/orders"])
    await hub.connect(hub.token(Role.STAFF, "bistro"), ["/availability"])
    body = await _connections(hub, hub.token(Role.ADMIN, "acme"))
    # Nothing of another tenant's pool: not its line, nor in the totals.
    assert body["byCompany"] == {"acme": 0}
    assert (body["total"], body["byNamespace"], body["byRole"]) == (0, {}, {})
    assert body["instances"] == {hub.ctx.instance_id: 0}
    await hub.connect(hub.token(Role.STAFF, "acme"), ["/orders"])
    body = await _connections(hub, hub.token(Role.ADMIN, "acme"))
    assert (body["total"], body["byNamespace"]) == (1, {"/orders": 1})
    body = await _connections(hub, hub.token(Role.OPERATOR, None))
    assert body["total"] == 3 and body["byCompany"] == {"acme": 1, "bistro": 2}


async def test_namespace_connection_alert_raises_and_clears_once(hub: HubHarness) -> None:
    _controlled(hub, namespace_connections=2)
    operator = await hub.connect(hub.token(Role.OPERATOR, None), ["/printing-ws"])
    company_admin = await hub.connect(hub.token(Role.ADMIN, "acme"), ["/printing-ws"])
    extra = [await hub.connect(hub.token(Role.STAFF, "acme"), ["/printing-ws"]) for _ in range(1)]
    raised = await hub.ctx.observer.evaluate()
    assert [(a.kind, a.state, a.subject) for a in raised] == [
        ("namespace_connections", "raised", "/printing-ws")
    ]
    assert await hub.ctx.observer.evaluate() == []  # raised once, not on every check
    await extra[0].close()
    await settle()
    cleared = await hub.ctx.observer.evaluate()
    assert [(a.kind, a.state) for a in cleared] == [("namespace_connections", "cleared")]
    assert await hub.ctx.observer.evaluate() == []
    events = await operator.wait_for(NS, "newAlert", count=2)
    assert [e["state"] for e in events] == ["raised", "cleared"]
    _, seen = await hub.get("/api/v1/alerts", hub.token(Role.OPERATOR, None))
    assert [a["state"] for a in seen["recent"]] == ["cleared", "raised"]
    # Hub-wide alerts are for platform operators: not a company's admin, nor its managers.
    assert company_admin.events(NS, "newAlert") == []
    for role in (Role.ADMIN, Role.MANAGER):
        _, seen = await hub.get("/api/v1/alerts", hub.token(role, "acme"))
        assert seen["recent"] == []


async def test_agent_offline_alert_after_five_minutes(hub: HubHarness) -> None:
    clock = _controlled(hub)
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    stranger = await hub.connect(hub.token(Role.MANAGER, "bistro"), [NS])
    agent = await _agent(hub)
    await agent.close()
    await settle()
    record = hub.ctx.printing.registry.agent("acme", "agent-1")
    assert record is not None
    record.offline_since = clock.now
    clock.now += 299
    assert await hub.ctx.observer.evaluate() == []
    clock.now += 2
    [raised] = await hub.ctx.observer.evaluate()
    assert (raised.kind, raised.subject, raised.company_id) == ("agent_offline", "agent-1", "acme")
    [event] = await manager.wait_for(NS, "newAlert")
    assert event["kind"] == "agent_offline"
    status, body = await hub.get("/api/v1/alerts", hub.token(Role.MANAGER, "acme"))
    assert status == 200
    assert [a["subject"] for a in body["active"]] == ["agent-1"]
    _, body = await hub.get("/api/v1/alerts", hub.token(Role.MANAGER, "bistro"))
    assert body["active"] == []
    await _agent(hub)
    [cleared] = await hub.ctx.observer.evaluate()
    assert cleared.state == "cleared"
    await settle()
    assert stranger.events(NS, "newAlert") == []


async def test_reconnect_storm_alert(hub: HubHarness) -> None:
    clock = _controlled(hub, reconnects_per_minute=3)
    for _ in range(4):  # the first connect is not a reconnect: three so far, not above 3
        client = await hub.connect(hub.token(Role.STAFF, "acme", sub="flappy"), ["/orders"])
        await client.close()
        await settle(0.05)
    assert await hub.ctx.observer.evaluate() == []
    await hub.connect(hub.token(Role.STAFF, "acme", sub="flappy"), ["/orders"])
    await settle(0.05)
    [raised] = await hub.ctx.observer.evaluate()
    assert raised.kind == "reconnect_rate"
    assert raised.value == 4
    clock.now += 61
    [cleared] = await hub.ctx.observer.evaluate()
    assert cleared.state == "cleared"
    text = (await hub.get("/metrics"))[1]
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("chit_reconnects_total", (("kind", "web"),))] == 4


async def test_many_tabs_of_one_user_are_not_reconnects(hub: HubHarness) -> None:
    _controlled(hub, reconnects_per_minute=3)
    token = hub.token(Role.STAFF, "acme", sub="many-tabs")
    tabs = await asyncio.gather(*[hub.connect(token, ["/orders"]) for _ in range(13)])
    await settle(0.1)
    assert await hub.ctx.observer.evaluate() == []
    await tabs[0].close()  # one tab reloads: one reconnect
    await hub.connect(token, ["/orders"])
    await settle(0.1)
    assert await hub.ctx.observer.evaluate() == []
    _, text = await hub.get("/metrics")
    assert 'chit_reconnects_total{kind="web"} 1.0' in text


async def test_instance_imbalance_alert(hub: HubHarness) -> None:
    _controlled(hub)
    hub.ctx.observer.instance_counts = lambda: {"a": 10, "b": 10, "c": 10}
    assert await hub.ctx.observer.evaluate() == []
    hub.ctx.observer.instance_counts = lambda: {"a": 16, "b": 7, "c": 7}
    [raised] = await hub.ctx.observer.evaluate()
    assert raised.kind == "instance_imbalance"
    assert imbalance({"a": 13, "b": 10, "c": 7}) == 0.3  # at the threshold: not above it
    hub.ctx.observer.instance_counts = lambda: {"a": 13, "b": 10, "c": 7}
    [cleared] = await hub.ctx.observer.evaluate()
    assert cleared.state == "cleared"


async def test_metrics_parse_and_count(hub: HubHarness) -> None:
    agent = await _agent(hub)
    await hub.connect(hub.token(Role.MANAGER, "acme"), ALL_NAMESPACES)
    await hub.post(
        "/api/v1/printers/net:127.0.0.1:9100/test", {}, token=hub.token(Role.MANAGER, "acme")
    )
    await agent.call(NS, "printer:discovered", {"agentId": "agent-1", "printer": {"bad": 1}})
    await asyncio.sleep(0.1)
    status, text = await hub.get("/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    connections = {
        s.labels["namespace"]: s.value
        for s in families["chit_connections"].samples
        if s.labels["role"] == "manager"
    }
    assert connections == {ns: 1.0 for ns in ALL_NAMESPACES}
    outcomes = {
        s.labels["outcome"]: s.value
        for s in families["chit_printer_tests"].samples
        if s.name == "chit_printer_tests_total"
    }
    assert outcomes == {"success": 1.0}
    invalid = [
        s
        for s in families["chit_invalid_payloads"].samples
        if s.name == "chit_invalid_payloads_total"
    ]
    assert invalid[0].labels["event"] == "printer:discovered"
    for name in (
        "chit_connection_duration_seconds",
        "chit_events_in",
        "chit_events_out",
        "chit_auth_refusals",
        "chit_print_jobs",
        "chit_alerts_active",
        "chit_printer_test_latency_seconds",
        "chit_reconnects",
    ):
        assert name in families, name
