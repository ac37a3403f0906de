"""The monitoring dashboard in a real browser: live connection counts, charts, alerts."""

from __future__ import annotations

import pytest

from hub.services.monitoring import AlertEngine, Monitor, Thresholds
from hub.store import tenants, users
from shared.tokens import Role
from tests.support import HubHarness, settle
from tests.web.browser import Browser, needs_browser

pytestmark = [needs_browser, pytest.mark.timeout(120)]

PASSWORD = "correct horse battery"
NS = "/printing-ws"


async def _admin(hub: HubHarness) -> None:
    async with hub.ctx.db.session() as s:
        await tenants.ensure_branch(s, "b1", "acme", "Main Street")
        await users.create_user(s, "root", PASSWORD, "admin", "acme")


def _thresholds(hub: HubHarness, **limits: float) -> None:
    """Swap the hub's alert engine for one with the given thresholds (same emitter)."""
    monitor: Monitor = hub.ctx.observer
    old = monitor.engine
    monitor.engine = AlertEngine(Thresholds(**limits), old._emit, old.clock)  # type: ignore[arg-type]


def _cell(table: str, attr: str, value: str, cls: str) -> str:
    return f'#{table} tr[data-{attr}="{value}"] td.{cls}'


async def test_dashboard_shows_live_connections_charts_and_alerts(
    hub: HubHarness, browser: Browser
) -> None:
    await _admin(hub)
    # Some history first: closed connections for the duration histogram, and a reconnect.
    for _ in range(2):
        flappy = await hub.connect(hub.token(Role.STAFF, "acme", sub="flappy"), ["/orders"])
        await flappy.close()
        await settle(0.05)
    # Connected now: 2 on /orders, 1 on /availability, 1 desktop agent on /printing-ws
    # (the browser's own socket adds a web client on /printing-ws).
    for sub in ("till-1", "till-2"):
        await hub.connect(hub.token(Role.STAFF, "acme", sub=sub), ["/orders"])
    await hub.connect(hub.token(Role.STAFF, "acme", sub="menu"), ["/availability"])
    await hub.connect(hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-9"), [NS])

    # Hub-wide charts and alerts are a platform operator's (a company's admin sees its own).
    await browser.get(hub.url + "/")
    await browser.js(
        "sessionStorage.setItem('chit.token', arguments[0])", hub.token(Role.OPERATOR, None)
    )
    await browser.get(hub.url + "/#/dashboard")
    await browser.find("#dash-connections")
    assert await browser.text("h1") == "Monitoring"

    def count(ns: str, value: int) -> str:
        return (
            f"const c = document.querySelector('{_cell('ns-table', 'namespace', ns, 'now')}');"
            f"return c && c.textContent === '{value}'"
        )

    await browser.until(count("/orders", 2))
    await browser.until(count("/availability", 1))
    await browser.until(count(NS, 2))
    assert await browser.text(_cell("kind-table", "kind", "desktop", "now")) == "1"
    assert await browser.text(_cell("kind-table", "kind", "web", "now")) == "4"
    # The charts are drawn (Chart.js instances with data), not just empty canvases.
    drawn = await browser.until(
        "const ids = ['dash-connections', 'dash-kinds', 'dash-durations', 'dash-reconnects'];"
        "const charts = ids.map((id) => window.Chart && Chart.getChart(id + '-canvas'));"
        "if (charts.some((c) => !c)) return false;"
        "return charts.map((c) => c.data.datasets.map((d) => d.data.filter((v) => v).length))"
    )
    connections, kinds, durations, _ = drawn
    assert all(n > 0 for n in connections), drawn
    assert kinds == [2], drawn
    assert durations[0] > 0, drawn
    label = await browser.js(
        "return document.getElementById('dash-connections-canvas').getAttribute('aria-label')"
    )
    assert "/orders 2" in label
    assert "closed connections" in await browser.js(
        "return document.getElementById('dash-durations-canvas').getAttribute('aria-label')"
    )
    assert await browser.text(_cell("reconnect-table", "kind", "web", "total")) == "1"
    assert await browser.text("#alerts-empty") == "No open alerts."

    # The counts follow churn without a reload, and an alert appears live.
    await browser.js("window.__sameDocument = true")
    await hub.connect(hub.token(Role.STAFF, "acme", sub="till-3"), ["/orders"])
    await browser.until(count("/orders", 3))
    _thresholds(hub, namespace_connections=2)
    raised = await hub.ctx.observer.evaluate()
    assert {(a.kind, a.subject) for a in raised} == {("namespace_connections", "/orders")}
    await browser.find('#alerts li[data-kind="namespace_connections"]')
    assert "3 connections on /orders" in await browser.text("#alerts li")
    assert await browser.text("#alerts-count") == "1"
    assert await browser.js("return window.__sameDocument") is True, "the page reloaded"
    await browser.until("return Number(document.querySelector('.view').dataset.polls) >= 2")
    path = await browser.screenshot("dashboard")
    assert path.stat().st_size > 10_000
    await browser.screenshot("dashboard-tablet", width=768)
    assert await browser.console_errors() == []


async def test_a_manager_sees_alerts_only(hub: HubHarness, browser: Browser) -> None:
    await browser.get(hub.url + "/")
    await browser.js(
        "sessionStorage.setItem('chit.token', arguments[0])", hub.token(Role.MANAGER, "acme")
    )
    await browser.get(hub.url + "/#/dashboard")
    note = await browser.text("#dash-note")
    assert "chit-hub user add --role admin --company acme" in note, note
    assert await browser.text("#alerts-empty") == "No open alerts."
    assert await browser.js("return document.querySelector('.dash-grid').hidden") is True
    assert await browser.find("#nav-dashboard")
