"""End to end: a printer says what it is, managers rename and configure it, a DHCP change
keeps it (and its queued job), settings reach an agent that was offline."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from agent.simulators.brain import SimIdentity
from agent.simulators.network import SimulatedNetworkPrinter
from hub.store.audit import list_audit
from shared.tokens import Role
from tests.e2e.support import (
    device_token,
    eventually,
    fast_settings,
    hub_agent,
    manual,
    running_agent,
)
from tests.support import HubHarness, free_port


@pytest.fixture
async def printer() -> Any:
    sim = SimulatedNetworkPrinter(identity=SimIdentity(serial="X4V0012345"))
    await sim.start()
    yield sim
    await sim.stop()


async def _listed(hub: HubHarness, printer_id: str, token: str | None = None) -> Any:
    status, body = await hub.get("/api/v1/printers", token or hub.token(Role.MANAGER, "acme"))
    assert status == 200, body
    return next((p for p in body["printers"] if p["printerId"] == printer_id), None)


async def test_the_printer_tells_who_it_is_and_the_hub_lists_it(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)):
        record = await eventually(lambda: hub_agent(hub))
        assert printer.printer_id == "net:sn:X4V0012345"
        await eventually(lambda: printer.printer_id in record.printers)
        row = await _listed(hub, printer.printer_id)
    assert row["name"] == f"TM-T20III at 127.0.0.1:{printer.port}"
    assert (row["model"], row["manufacturer"], row["serial"], row["firmware"]) == (
        "TM-T20III",
        "EPSON",
        "X4V0012345",
        "10.02 ESC/POS",
    )
    assert (row["host"], row["profile"]) == ("127.0.0.1", "TM-T20II")
    assert row["settings"]["name"] is None


async def test_rename_and_configure_reach_the_agent_and_are_audited(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    manager = hub.token(Role.MANAGER, "acme", sub="maria")
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    path = f"/api/v1/printers/{printer.printer_id}"
    async with running_agent(settings, device_token(hub)) as agent:
        record = await eventually(lambda: hub_agent(hub))
        await eventually(lambda: printer.printer_id in record.printers)
        change = {
            "name": "Grill",
            "profile": "TM-T88V",
            "paperWidthMm": 58,
            "textMode": "image",
            "statusChannel": "escpos",
            "commandSet": "escpos",
        }
        status, body = await hub.patch(path, change, manager)
        assert status == 200, body
        assert body["sentToAgent"] is True and body["settings"] == change
        coordinator = agent.coordinators[printer.printer_id]
        await eventually(lambda: coordinator.info.name == "Grill")
        info = coordinator.info
        assert (info.profile, info.paper_width_mm, info.text_mode) == ("TM-T88V", 58, "image")
        assert agent.printer_settings.status_channel(printer.printer_id) == "escpos"
        # The agent reported the printer again: the hub lists the new name and settings.
        await eventually(lambda: record.printers[printer.printer_id].name == "Grill")
        row = await _listed(hub, printer.printer_id)
        assert (row["name"], row["profile"], row["textMode"]) == ("Grill", "TM-T88V", "image")
        assert row["settings"]["statusChannel"] == "escpos"
        # A later PATCH changes only what it names; null goes back to the discovered value.
        status, body = await hub.patch(path, {"profile": None}, manager)
        assert status == 200 and body["settings"]["name"] == "Grill"
        await eventually(lambda: coordinator.info.profile == "TM-T20II")
        stored = json.loads((Path(os.environ["CHIT_AGENT_DATA_DIR"]) / "printers.json").read_text())
        assert stored[printer.printer_id]["name"] == "Grill"
        assert "profile" not in stored[printer.printer_id]
    async with hub.ctx.db.session() as s:
        entries = [e for e in await list_audit(s, "acme") if e.action == "printer.configure"]
    assert [e.detail["changes"] for e in entries if e.detail] == [{"profile": None}, change]
    assert {(e.actor, e.target) for e in entries} == {("maria", printer.printer_id)}


async def test_patch_is_validated_and_tenant_checked(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    path = f"/api/v1/printers/{printer.printer_id}"
    manager = hub.token(Role.MANAGER, "acme")
    async with running_agent(settings, device_token(hub)):
        record = await eventually(lambda: hub_agent(hub))
        await eventually(lambda: printer.printer_id in record.printers)
        for bad, field in [
            ({"paperWidthMm": 57}, "paperWidthMm"),
            ({"profile": "TM-NOPE"}, "profile"),
            ({"statusChannel": "smoke"}, "statusChannel"),
            ({"textMode": "loud"}, "textMode"),
            ({"name": ""}, "name"),
            ({"name": "two\nlines"}, "name"),
            ({"colour": "red"}, "colour"),
        ]:
            status, body = await hub.patch(path, bad, manager)
            assert (status, body["code"], body["field"]) == (422, "invalid_payload", field), bad
        status, body = await hub.patch(path, {}, manager)
        assert status == 422
        # Another company's printer answers exactly like one that does not exist.
        other = hub.token(Role.MANAGER, "globex")
        status, foreign = await hub.patch(path, {"name": "Mine"}, other)
        status2, unknown = await hub.patch("/api/v1/printers/net:sn:NOPE", {"name": "x"}, other)
        assert (status, status2) == (404, 404)
        assert foreign["code"] == unknown["code"] == "not_found"
        staff = hub.token(Role.STAFF, "acme", "b1")
        assert (await hub.patch(path, {"name": "Mine"}, staff))[0] == 403
        assert (await _listed(hub, printer.printer_id))["name"].startswith("TM-T20III at ")


async def test_settings_reach_an_agent_that_was_offline_and_survive_a_restart(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)):
        record = await eventually(lambda: hub_agent(hub))
        await eventually(lambda: printer.printer_id in record.printers)
    await eventually(lambda: hub_agent(hub) is None)
    path = f"/api/v1/printers/{printer.printer_id}"
    status, body = await hub.patch(path, {"name": "Pass"}, hub.token(Role.MANAGER, "acme"))
    assert status == 200 and body["sentToAgent"] is False
    async with running_agent(settings, device_token(hub)) as agent:
        await eventually(lambda: printer.printer_id in agent.coordinators)
        await eventually(lambda: agent.coordinators[printer.printer_id].info.name == "Pass")
    # No hub at all now: the name is kept from the agent's own copy.
    offline = fast_settings(hub_url=None, manual_printers=(manual(printer),))
    async with running_agent(offline, device_token(hub)) as agent:
        await eventually(lambda: printer.printer_id in agent.coordinators)
        assert agent.coordinators[printer.printer_id].info.name == "Pass"


async def test_a_dhcp_change_keeps_the_printer_and_its_queued_job(hub: HubHarness) -> None:
    port = free_port()
    identity = SimIdentity(serial="X4V0099999")
    before = SimulatedNetworkPrinter(host="127.0.0.1", port=port, identity=identity)
    after = SimulatedNetworkPrinter(host="127.0.0.2", port=port, identity=identity)
    await before.start()
    settings = fast_settings(
        hub_url=hub.url,
        subnets=("127.0.0.1/32", "127.0.0.2/32"),
        sweep_port=port,
        scan_interval=0.5,
    )
    manager = hub.token(Role.MANAGER, "acme")
    try:
        async with running_agent(settings, device_token(hub)) as agent:
            record = await eventually(lambda: hub_agent(hub))
            printer_id = "net:sn:X4V0099999"
            await eventually(lambda: printer_id in record.printers)
            assert record.printers[printer_id].host == "127.0.0.1"
            await before.stop()  # the lease ends: the printer is gone from its address
            coordinator = agent.coordinators[printer_id]
            await eventually(lambda: not coordinator.status.ready)
            raw = base64.b64encode(b"\x1b@DHCP-JOB-1\n\x1dV\x00").decode()
            status, job = await hub.post(
                "/api/v1/jobs", {"printerId": printer_id, "raw": raw}, token=manager
            )
            assert status == 201, job
            await after.start()  # ... and it comes back at another address
            await eventually(lambda: after.count_jobs_containing("DHCP-JOB-1") == 1, 20)
            await eventually(lambda: record.printers[printer_id].host == "127.0.0.2")
            assert list(agent.coordinators) == [printer_id]  # the same printer, not a new one
            assert await _job_state(hub, job["jobId"], "printed") == "printed"
    finally:
        await before.stop()
        await after.stop()
    row = await _listed(hub, printer_id)
    assert (row["host"], row["name"]) == ("127.0.0.2", f"TM-T20III at 127.0.0.2:{port}")


async def _job_state(hub: HubHarness, job_id: str, wanted: str, timeout: float = 10.0) -> str:
    """The job's state at the hub once it is ``wanted`` (or the last seen at the deadline)."""
    state = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        status, body = await hub.get(f"/api/v1/jobs/{job_id}", hub.token(Role.MANAGER, "acme"))
        assert status == 200, body
        if (state := body["state"]) == wanted:
            break
        await asyncio.sleep(0.1)
    return state
