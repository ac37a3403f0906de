"""End to end on loopback: the cash drawer, the buzzer and non-Latin text through a real hub,
a real agent and a simulated printer."""

from __future__ import annotations

import aiohttp
import pytest

from agent.simulators.brain import SimState
from agent.simulators.network import SimulatedNetworkPrinter
from hub.store.audit import list_audit
from shared.tokens import Role
from tests.agent.golden_images import assert_matches, printed_images
from tests.agent.test_render_scripts import ARABIC, CHINESE
from tests.e2e.support import (
    device_token,
    eventually,
    fast_settings,
    hub_agent,
    manual,
    running_agent,
)
from tests.support import HubHarness

NS = "/printing-ws"


@pytest.fixture
async def printer() -> SimulatedNetworkPrinter:
    # Ignores GS I: it starts out of paper in some tests, when a printer does not process commands.
    sim = SimulatedNetworkPrinter(name="Till", identity=None)
    await sim.start()
    yield sim  # type: ignore[misc]
    await sim.stop()


async def _ready(hub: HubHarness, printer: SimulatedNetworkPrinter) -> None:
    record = await eventually(lambda: hub_agent(hub))
    await eventually(lambda: printer.printer_id in record.printers)


async def test_drawer_opens_while_the_paper_is_out(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    manager_token = hub.token(Role.MANAGER, "acme", sub="maria")
    watcher = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    printer.set_state(SimState.PAPER_OUT)
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)):
        await _ready(hub, printer)
        status, body = await hub.post(
            f"/api/v1/printers/{printer.printer_id}/drawer?correlationId=corr-drawer-e2e1",
            {"pin": 2},
            token=manager_token,
        )
        assert status == 200, body
        assert body["correlationId"] == "corr-drawer-e2e1"
        assert body["result"]["success"] is True
        assert body["result"]["status"]["state"] == "paper_out"
        [pulse] = await eventually(lambda: printer.brain.pulses)
        assert (pulse.pin, pulse.state) == (2, SimState.PAPER_OUT)
        assert pulse.command == "DLE DC4"  # ESC p would wait in the buffer until paper is in
        [broadcast] = await watcher.wait_for(NS, "printer:action:result")
        assert broadcast["correlationId"] == "corr-drawer-e2e1"
        assert broadcast["action"] == "drawer"
        again, body2 = await hub.post(
            f"/api/v1/printers/{printer.printer_id}/drawer?correlationId=corr-drawer-e2e1",
            token=manager_token,
        )
        assert again == 200 and body2["result"] == body["result"]
        assert len(printer.brain.pulses) == 1  # one correlation id, one pulse
    async with hub.ctx.db.session() as s:
        [entry] = [e for e in await list_audit(s, "acme") if e.action == "printer.drawer"]
    assert entry.actor == "maria" and entry.target == printer.printer_id
    assert entry.detail is not None and entry.detail["correlationId"] == "corr-drawer-e2e1"
    assert entry.detail["pin"] == 2 and entry.detail["success"] is True


async def test_drawer_is_refused_when_the_printer_is_unreachable(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    token = hub.token(Role.MANAGER, "acme")
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)):
        await _ready(hub, printer)
        printer.set_state(SimState.POWERED_OFF)
        url = (
            f"{hub.url}/api/v1/printers/{printer.printer_id}/drawer?correlationId=corr-drawer-off1"
        )
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, headers={"Authorization": f"Bearer {token}"}) as resp,
        ):
            status, body = resp.status, await resp.json()
            assert resp.headers["X-Correlation-Id"] == "corr-drawer-off1"
        assert status == 409, body
        assert body["code"] == "printer_unreachable"
    status, body = await hub.post(
        f"/api/v1/printers/{printer.printer_id}/drawer?correlationId=corr-drawer-off2",
        token=token,
    )
    assert status == 409 and body["code"] == "agent_offline"
    status, body = await hub.post("/api/v1/printers/tcp:127.0.0.9:9/drawer", token=token)
    assert status == 404 and body["code"] == "unknown_printer"


async def test_staff_of_the_branch_open_the_drawer_over_the_socket(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    staff = await hub.connect(hub.token(Role.STAFF, "acme", "b1", sub="sam"), [NS])
    stranger = await hub.connect(hub.token(Role.STAFF, "acme", "b2"), [NS])
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)):
        await _ready(hub, printer)
        request = {"correlationId": "corr-drawer-sock1", "printerId": printer.printer_id}
        ack = await staff.call(NS, "printer:drawer", {**request, "pin": 5})
        assert ack["ok"] is True, ack
        assert ack["result"]["correlationId"] == "corr-drawer-sock1"
        assert ack["result"]["requestedBy"] == "sam"
        refused = await stranger.call(
            NS, "printer:drawer", {**request, "correlationId": "corr-drawer-sock2"}
        )
        assert refused["ok"] is False and refused["error"]["code"] == "unknown_printer"
        bad = await staff.call(NS, "printer:drawer", {**request, "pin": 3})
        assert bad["ok"] is False and bad["error"]["code"] == "invalid_payload"
        [pulse] = await eventually(lambda: printer.brain.pulses)
        assert (pulse.pin, pulse.command) == (5, "ESC p")
        buzz = await staff.call(NS, "printer:buzz", {**request, "correlationId": "corr-buzz-s1"})
        assert buzz["ok"] is False and buzz["error"]["code"] == "no_buzzer"


async def test_arabic_and_chinese_lines_print_as_images(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    document = {
        "lines": [
            {"type": "text", "text": "Order 17"},
            {"type": "text", "text": ARABIC},
            {"type": "text", "text": CHINESE},
        ]
    }
    async with running_agent(settings, device_token(hub)):
        await _ready(hub, printer)
        status, body = await hub.post(
            "/api/v1/jobs",
            {"printerId": printer.printer_id, "document": document},
            token=hub.token(Role.MANAGER, "acme"),
        )
        assert status in (200, 201, 202), body
        await eventually(lambda: printer.brain.cuts == 1)
    job = printer.brain.jobs[0]
    assert b"Order 17\n" in job
    arabic, chinese = printed_images(job)
    assert_matches(arabic, "arabic-line.png")
    assert_matches(chinese, "chinese-line.png")
