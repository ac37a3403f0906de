"""Asking a Star-mode printer what it is (``ESC # * LF NUL``) over TCP and USB: a TSP143
answers its model and version, ASB packets in between are skipped, a printer that ignores the
question costs one bounded timeout and still prints, and the coordinator asks once per
connection on the ``star`` channel."""

from __future__ import annotations

import asyncio

from agent.coordinator import PrinterCoordinator
from agent.simulators.brain import PrinterBrain, SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.usb_backend import star_tsp100
from agent.transports import TcpTransport, Transport, open_transport
from agent.transports.identity import (
    ask_star_version,
    query_channel_identity,
    query_star_identity,
)
from shared.escpos.identity import PrinterIdentity
from shared.escpos.star import enable_asb
from shared.printers import PrinterInfo
from tests.agent.support import within
from tests.agent.transports.test_channels import over_usb

TSP143IIIL = PrinterIdentity(model="TSP143IIIL", firmware="1.2", manufacturer="Star Micronics")


async def _connect(sim: SimulatedNetworkPrinter) -> TcpTransport:
    return await TcpTransport.connect(sim.host, sim.port, connect_timeout=2.0)


async def test_a_network_tsp143_tells_its_model_and_version() -> None:
    async with SimulatedNetworkPrinter(mode="star_graphic") as sim:
        transport = await _connect(sim)
        try:
            with within(2.0):
                identity = await query_channel_identity(transport, "star", 0.5)
        finally:
            await transport.close()
    assert identity == TSP143IIIL
    assert sim.brain.version_queries == 1 and sim.brain.identity_queries == 0
    assert sim.printed == b"" and sim.brain.paper().unknown == []  # a command, not data


async def test_a_usb_tsp143_tells_its_model() -> None:
    device = star_tsp100()
    async with over_usb(device) as transport:
        identity = await query_star_identity(transport, 0.5)
    assert (identity.model, identity.firmware) == ("TSP143IIIU", "1.2")


async def test_an_automatic_status_in_between_is_skipped() -> None:
    async with SimulatedNetworkPrinter(mode="star") as sim:
        transport = await _connect(sim)
        try:
            await transport.write(enable_asb(), 1.0)
            await asyncio.sleep(0.05)
            sim.set_state(SimState.PAPER_NEAR_END)  # still ready: an ASB is pushed
            await asyncio.sleep(0.05)
            reply = await ask_star_version(transport, 0.5)  # the ASB is read first
        finally:
            await transport.close()
    assert reply.done and reply.value is not None
    assert (reply.value.model, reply.value.firmware) == ("TSP654", "2.1")


async def test_a_star_printer_that_never_answers_costs_one_timeout() -> None:
    async with SimulatedNetworkPrinter(mode="star_graphic", star_version=None) as sim:
        transport = await _connect(sim)
        try:
            with within(1.0):
                identity = await query_star_identity(transport, 0.3)
        finally:
            await transport.close()
    assert not identity.answered and sim.brain.version_queries == 1


async def test_an_offline_star_printer_does_not_answer() -> None:
    async with SimulatedNetworkPrinter(mode="star", state=SimState.COVER_OPEN) as sim:
        transport = await _connect(sim)
        try:
            assert not (await query_star_identity(transport, 0.2)).answered
        finally:
            await transport.close()


async def test_nothing_is_asked_without_a_channel_that_answers() -> None:
    async with SimulatedNetworkPrinter(mode="star") as sim:
        transport = await _connect(sim)
        try:
            for channel in ("none", "queue", None):
                assert not (await query_channel_identity(transport, channel, 0.2)).answered
        finally:
            await transport.close()
    assert sim.brain.raw == b""


async def _open(info: PrinterInfo, timeout: float) -> Transport:
    return await open_transport(info, timeout=timeout)


async def test_coordinator_asks_a_star_printer_once_per_connection() -> None:
    heard: list[PrinterIdentity] = []

    async def on_identity(_: PrinterCoordinator, identity: PrinterIdentity) -> None:
        heard.append(identity)

    brain = PrinterBrain(mode="star_graphic")
    async with SimulatedNetworkPrinter(brain=brain) as sim:
        coordinator = PrinterCoordinator(sim.printer_info(), _open, 1.0, on_identity=on_identity)
        await coordinator.refresh()
        await coordinator.refresh()
        assert coordinator.channel == "star"
        assert brain.version_queries == 1 and brain.identity_queries == 0
        assert heard == [TSP143IIIL] and coordinator.identity == TSP143IIIL
        await coordinator.close()  # a new connection asks again; the same answer is not news
        await coordinator.refresh()
        assert brain.version_queries == 2 and len(heard) == 1
        await coordinator.close()


async def test_a_star_printer_that_ignores_the_question_still_prints() -> None:
    brain = PrinterBrain(mode="star", star_version=None)
    async with SimulatedNetworkPrinter(brain=brain) as sim:
        coordinator = PrinterCoordinator(sim.printer_info(), _open, 1.0)
        with within(4.0):
            status = await coordinator.refresh()
            await coordinator.print_bytes(b"\x1b@STAR-RECEIPT\n\x1bd\x02")
        assert status.ready and coordinator.identity is None
        assert sim.count_jobs_containing("STAR-RECEIPT") == 1
        await coordinator.close()
