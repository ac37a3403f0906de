"""Asking a printer what it is over TCP: a TM-T20III answers, a printer that ignores GS I
costs one bounded timeout and still prints, and the coordinator asks once per connection."""

from __future__ import annotations

import pytest

from agent.coordinator import PrinterCoordinator
from agent.simulators.brain import SimIdentity, SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.transports import TcpTransport, Transport, open_transport
from agent.transports.identity import query_identity
from shared.escpos.identity import PrinterIdentity
from shared.printers import PrinterInfo
from tests.agent.support import within

JOB = b"\x1b@RECEIPT-ID\n\x1dV\x00"


async def _connect(sim: SimulatedNetworkPrinter) -> TcpTransport:
    return await TcpTransport.connect(sim.host, sim.port, connect_timeout=2.0)


async def test_a_tm_t20iii_tells_model_maker_serial_and_firmware() -> None:
    async with SimulatedNetworkPrinter(identity=SimIdentity(serial="X4V0000001")) as sim:
        transport = await _connect(sim)
        try:
            with within(2.0):
                identity = await query_identity(transport, 0.5)
        finally:
            await transport.close()
    assert identity == PrinterIdentity(
        model="TM-T20III",
        manufacturer="EPSON",
        serial="X4V0000001",
        firmware="10.02 ESC/POS",
        model_id=0x20,
        type_id=0x02,
    )
    assert sim.printed == b""  # GS I is a command: nothing printed


async def test_a_printer_that_never_answers_costs_one_timeout() -> None:
    async with SimulatedNetworkPrinter(identity=None) as sim:
        transport = await _connect(sim)
        try:
            with within(1.0):
                identity = await query_identity(transport, 0.3)
        finally:
            await transport.close()
    assert not identity.answered
    assert sim.brain.identity_queries == 1  # the first silence ends the round


async def test_a_printer_that_answers_only_some_gives_what_it_said() -> None:
    partial = SimIdentity(serial=None, firmware=None, answers=frozenset({67, 66, 68}))
    async with SimulatedNetworkPrinter(identity=partial) as sim:
        transport = await _connect(sim)
        try:
            identity = await query_identity(transport, 0.3)
        finally:
            await transport.close()
    # "_ NUL" for the serial is an answer ("cannot tell"); firmware (65) is not answered.
    assert (identity.model, identity.manufacturer, identity.serial) == ("TM-T20III", "EPSON", None)
    assert identity.firmware is None and identity.type_id is None


async def test_an_offline_printer_does_not_process_gs_i() -> None:
    async with SimulatedNetworkPrinter(state=SimState.PAPER_OUT) as sim:
        transport = await _connect(sim)
        try:
            assert not (await query_identity(transport, 0.2)).answered
        finally:
            await transport.close()


async def _open(info: PrinterInfo, timeout: float) -> Transport:
    return await open_transport(info, timeout=timeout)


async def test_coordinator_asks_once_per_connection_and_reports_new_answers() -> None:
    heard: list[PrinterIdentity] = []

    async def on_identity(_: PrinterCoordinator, identity: PrinterIdentity) -> None:
        heard.append(identity)

    async with SimulatedNetworkPrinter() as sim:
        coordinator = PrinterCoordinator(sim.printer_info(), _open, 1.0, on_identity=on_identity)
        await coordinator.refresh()
        await coordinator.refresh()
        assert sim.brain.identity_queries == 6  # one round of six questions
        assert [i.model for i in heard] == ["TM-T20III"]
        assert coordinator.identity is not None and coordinator.identity.serial == sim.serial
        await coordinator.close()  # a new connection asks again; the same answer is not news
        await coordinator.refresh()
        assert sim.brain.identity_queries == 12 and len(heard) == 1
        await coordinator.close()


async def test_a_printer_that_ignores_gs_i_still_prints() -> None:
    async with SimulatedNetworkPrinter(identity=None) as sim:
        coordinator = PrinterCoordinator(sim.printer_info(), _open, 1.0)
        with within(3.0):
            status = await coordinator.refresh()
            await coordinator.print_bytes(JOB)
        assert status.ready and coordinator.identity is None
        assert sim.count_jobs_containing("RECEIPT-ID") == 1
        await coordinator.close()


async def test_identity_waits_for_a_ready_printer() -> None:
    async with SimulatedNetworkPrinter(state=SimState.COVER_OPEN) as sim:
        coordinator = PrinterCoordinator(sim.printer_info(), _open, 1.0)
        await coordinator.refresh()
        assert sim.brain.identity_queries == 0
        sim.set_state(SimState.OK)
        await coordinator.refresh()
        assert coordinator.identity is not None
        await coordinator.close()


@pytest.mark.parametrize("junk", [b"\x1dI\x43\x1b@x", b"x\x1dI\x43"])
async def test_the_simulator_treats_gs_i_inside_data_as_data(junk: bytes) -> None:
    async with SimulatedNetworkPrinter() as sim:
        transport = await _connect(sim)
        try:
            await transport.write(junk, 1.0)
            assert await transport.read(32, 0.2) == b""
        finally:
            await transport.close()
