"""End to end on loopback: a real hub, a real agent, simulated printers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.simulators.brain import SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.usb_backend import FakeUsbBackend, FakeUsbPrinter
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

NS = "/printing-ws"


@pytest.fixture
async def printer() -> SimulatedNetworkPrinter:
    sim = SimulatedNetworkPrinter(name="Kitchen")
    await sim.start()
    yield sim  # type: ignore[misc]
    await sim.stop()


async def _test(hub: HubHarness, printer_id: str, correlation: str) -> dict:  # type: ignore[type-arg]
    status, body = await hub.post(
        f"/api/v1/printers/{printer_id}/test?correlationId={correlation}",
        {},
        token=hub.token(Role.MANAGER, "acme"),
    )
    assert status == 200, body
    return body["result"]  # type: ignore[no-any-return]


async def test_test_print_round_trip(hub: HubHarness, printer: SimulatedNetworkPrinter) -> None:
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    bystander = SimulatedNetworkPrinter(name="Bar")
    await bystander.start()
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer), manual(bystander)))
    async with running_agent(settings, device_token(hub)):
        record = await eventually(lambda: hub_agent(hub))
        await eventually(lambda: printer.printer_id in record.printers)
        result = await _test(hub, printer.printer_id, "corr-e2e-00001")
        assert result["success"] is True, result
        assert result["correlationId"] == "corr-e2e-00001"
        assert result["status"]["state"] == "online"
        assert printer.count_jobs_containing("corr-e2e-00001") == 1
        assert bystander.brain.printed == b""
        [broadcast] = await manager.wait_for(NS, "printer:test:result")
        assert broadcast["correlationId"] == "corr-e2e-00001"
        discovered = {e["printer"]["printerId"] for e in manager.events(NS, "printer:discovered")}
        assert discovered == {printer.printer_id, bystander.printer_id}
    await bystander.stop()


async def test_duplicate_correlation_id_prints_once(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)) as agent:
        record = await eventually(lambda: hub_agent(hub))
        await eventually(lambda: printer.printer_id in record.printers)
        first = await _test(hub, printer.printer_id, "corr-e2e-00002")
        hub.ctx.printing._results.clear()  # force the hub to ask the agent again
        second = await _test(hub, printer.printer_id, "corr-e2e-00002")
        assert first == second
        assert printer.count_jobs_containing("corr-e2e-00002") == 1
        assert agent.tests.get("corr-e2e-00002") is not None


@pytest.mark.parametrize(
    ("state", "hub_state", "code"),
    [
        (SimState.PAPER_OUT, "paper_out", "paper_out"),
        (SimState.COVER_OPEN, "cover_open", "cover_open"),
        (SimState.OFFLINE, "offline", "printer_offline"),
        (SimState.ERROR, "error", "printer_error"),
        (SimState.POWERED_OFF, "unknown", "printer_not_responding"),
    ],
)
async def test_fault_states_show_and_fail_tests(
    hub: HubHarness, printer: SimulatedNetworkPrinter, state: SimState, hub_state: str, code: str
) -> None:
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)):
        record = await eventually(lambda: hub_agent(hub))
        await eventually(lambda: printer.printer_id in record.printers)
        printer.set_state(state)
        await eventually(
            lambda: any(
                u["status"]["state"] == hub_state for u in manager.events(NS, "printerStatusUpdate")
            )
        )
        result = await _test(hub, printer.printer_id, f"corr-e2e-{state}")
        assert result["success"] is False
        assert result["error"]["code"] == code
        assert printer.count_jobs_containing(f"corr-e2e-{state}") == 0
        printer.set_state(SimState.OK)
        await eventually(
            lambda: manager.events(NS, "printerStatusUpdate")[-1]["status"]["state"] == "online"
        )


async def test_paper_near_end_still_prints(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    printer.set_state(SimState.PAPER_NEAR_END)
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)):
        record = await eventually(lambda: hub_agent(hub))
        await eventually(lambda: printer.printer_id in record.printers)
        result = await _test(hub, printer.printer_id, "corr-e2e-nearend")
        assert result["success"] is True
        assert result["status"]["paperNearEnd"] is True


async def test_usb_printer_via_fake_backend(hub: HubHarness) -> None:
    device = FakeUsbPrinter(serial="E2E0001")
    settings = fast_settings(hub_url=hub.url, usb=True)
    async with running_agent(settings, device_token(hub), usb_backend=FakeUsbBackend([device])):
        record = await eventually(lambda: hub_agent(hub))
        printer_id = await eventually(lambda: next(iter(record.printers), None))
        assert printer_id.startswith("usb:04b8:0e15:")
        result = await _test(hub, printer_id, "corr-e2e-usb01")
        assert result["success"] is True, result
        assert device.brain.count_jobs_containing("corr-e2e-usb01") == 1


async def test_agent_gone_gives_clear_result(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)):
        record = await eventually(lambda: hub_agent(hub))
        await eventually(lambda: printer.printer_id in record.printers)
    result = await _test(hub, printer.printer_id, "corr-e2e-gone1")
    assert result["success"] is False
    assert result["error"]["code"] == "agent_offline"


async def test_agent_reconnects_and_reannounces_after_hub_restart(
    tmp_path: Path, printer: SimulatedNetworkPrinter
) -> None:
    port = free_port()
    hub = await HubHarness.start(tmp_path / "h1", port=port)
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    token = device_token(hub)
    try:
        async with running_agent(settings, token):
            record = await eventually(lambda: hub_agent(hub))
            await eventually(lambda: printer.printer_id in record.printers)
            await hub.stop()
            await asyncio.sleep(0.5)
            hub = await HubHarness.start(tmp_path / "h2", port=port)
            record = await eventually(lambda: hub_agent(hub), timeout=15)
            await eventually(lambda: printer.printer_id in record.printers)
            assert record.info is not None
            assert record.info.hostname == "till-1"
            result = await _test(hub, printer.printer_id, "corr-e2e-restart")
            assert result["success"] is True
    finally:
        await hub.stop()


async def test_every_discovery_method_reaches_the_hub(hub: HubHarness) -> None:
    from agent.simulators.fleet import SimulatorFleet

    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    async with SimulatorFleet(2, announce=True) as fleet, SimulatedNetworkPrinter() as swept:
        device = FakeUsbPrinter(serial="DISC01")
        settings = fast_settings(
            hub_url=hub.url,
            usb=True,
            mdns=True,
            subnets=("127.0.0.0/24",),
            sweep_port=swept.port,
            scan_interval=30,
        )
        async with running_agent(
            settings,
            device_token(hub),
            usb_backend=FakeUsbBackend([device]),
            mdns_interfaces=["127.0.0.1"],
        ):
            record = await eventually(lambda: hub_agent(hub))
            expected = {p.printer_id for p in fleet.printers} | {swept.printer_id}
            await eventually(lambda: expected <= set(record.printers), timeout=20)
            assert any(pid.startswith("usb:04b8:0e15:DISC01") for pid in record.printers)

            def sources() -> dict[str, str]:
                return {
                    e["printer"]["printerId"]: e["printer"]["source"]
                    for e in manager.events(NS, "printer:discovered")
                }

            await eventually(lambda: expected <= set(sources()))
            assert sources()[swept.printer_id] == "sweep"
            assert {sources()[p.printer_id] for p in fleet.printers} == {"mdns"}
