"""Status channels at the pyusb and TCP seams: detection, and the status each channel gives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from agent.simulators.brain import PrinterBrain, SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.usb_backend import (
    FakeUsbBackend,
    FakeUsbPrinter,
    generic_pos58,
    star_tsp100,
)
from agent.transports import TcpTransport, Transport, TransportTimeout, UsbTransport
from agent.transports.channels import detect_channel, query_channel, query_star
from shared.escpos.star import ASB_REQUEST, ENQ_QUERY, enable_asb
from shared.printers import PrinterState, StatusSource
from tests.agent.support import within

STAR_STATES = [
    (SimState.OK, PrinterState.ONLINE),
    (SimState.PAPER_NEAR_END, PrinterState.PAPER_NEAR_END),
    (SimState.PAPER_OUT, PrinterState.PAPER_OUT),
    (SimState.COVER_OPEN, PrinterState.COVER_OPEN),
    (SimState.OFFLINE, PrinterState.OFFLINE),
    (SimState.ERROR, PrinterState.ERROR),
]


@asynccontextmanager
async def over_usb(device: FakeUsbPrinter) -> AsyncIterator[UsbTransport]:
    backend = FakeUsbBackend([device])
    transport = await UsbTransport.open(device.vendor_id, device.product_id, backend=backend)
    try:
        yield transport
    finally:
        await transport.close()


@asynccontextmanager
async def over_tcp(brain: PrinterBrain) -> AsyncIterator[Transport]:
    async with SimulatedNetworkPrinter(brain=brain) as sim:
        transport = await TcpTransport.connect(sim.host, sim.port)
        try:
            yield transport
        finally:
            await transport.close()


async def test_a_usb_printer_without_bulk_in_is_none_at_once() -> None:
    device = generic_pos58()
    async with over_usb(device) as transport:
        assert transport.can_read is False
        with within(0.5):
            assert await detect_channel(transport, 1.0) == "none"
        status = await query_channel(transport, "none", 1.0)
    assert status.state is PrinterState.NO_STATUS and status.source is StatusSource.NONE
    assert status.online is None and status.ready and not status.confirmed
    assert device.brain.raw == b""  # nothing was asked of it


async def test_an_epson_over_usb_is_escpos() -> None:
    async with over_usb(FakeUsbPrinter()) as transport:
        assert transport.can_read is True
        assert await detect_channel(transport, 1.0) == "escpos"


@pytest.mark.parametrize("kind", ["tcp", "usb"])
async def test_a_star_printer_is_star_and_gets_asb_switched_on(kind: str) -> None:
    brain = PrinterBrain(mode="star")
    opened = over_usb(star_tsp100(brain=brain)) if kind == "usb" else over_tcp(brain)
    async with opened as transport:
        assert await detect_channel(transport, 0.5) == "star"
    assert ASB_REQUEST in brain.raw and brain.raw.endswith(enable_asb())
    assert brain.asb_enabled


@pytest.mark.parametrize(("sim_state", "state"), STAR_STATES)
async def test_star_asb_reports_every_state(sim_state: SimState, state: PrinterState) -> None:
    async with over_tcp(PrinterBrain(sim_state, mode="star")) as transport:
        status = await query_channel(transport, "star", 1.0)
    assert status.state is state
    assert status.source is StatusSource.HARDWARE and status.confirmed


async def test_star_without_asb_answers_enq() -> None:
    brain = PrinterBrain(SimState.PAPER_OUT, mode="star", asb=False)
    async with over_tcp(brain) as transport:
        assert await detect_channel(transport, 0.3) == "star"
        assert (await query_star(transport, 0.3)).state is PrinterState.PAPER_OUT
        brain.set_state(SimState.COVER_OPEN)
        status = await query_star(transport, 0.3)
    assert status.state is PrinterState.ERROR  # ENQ cannot tell a cover from an error
    assert ENQ_QUERY in brain.raw


async def test_a_star_printer_answers_no_escpos_query() -> None:
    # what makes detection necessary: DLE EOT gets Star's EOT byte, never an ESC/POS status
    async with over_tcp(PrinterBrain(SimState.PAPER_OUT, mode="star")) as transport:
        status = await query_channel(transport, "escpos", 0.3)
    assert status.state is PrinterState.UNKNOWN


@pytest.mark.parametrize("kind", ["tcp", "usb"])
async def test_a_silent_printer_is_undecided(kind: str) -> None:
    brain = PrinterBrain(answer_status=False)
    opened = over_usb(FakeUsbPrinter(brain=brain)) if kind == "usb" else over_tcp(brain)
    async with opened as transport:
        with within(2.0):
            assert await detect_channel(transport, 0.2) is None
    assert brain.raw  # it took every question


async def test_a_printer_that_takes_no_writes_is_not_silent() -> None:
    async with over_usb(FakeUsbPrinter(accepts_writes=False)) as transport:
        with pytest.raises(TransportTimeout):
            await detect_channel(transport, 0.2)


@pytest.mark.parametrize("kind", ["tcp", "usb"])
async def test_asb_pushed_by_the_printer_never_confuses_a_round(kind: str) -> None:
    brain = PrinterBrain(mode="star")
    opened = over_usb(star_tsp100(brain=brain)) if kind == "usb" else over_tcp(brain)
    async with opened as transport:
        assert await detect_channel(transport, 0.5) == "star"
        brain.set_state(SimState.COVER_OPEN)  # pushed: an ASB waits on the link
        await asyncio.sleep(0.05)
        brain.set_state(SimState.PAPER_OUT)  # and another
        await asyncio.sleep(0.05)
        assert (await query_channel(transport, "star", 0.5)).state is PrinterState.PAPER_OUT
        brain.set_state(SimState.OK)
        assert (await query_channel(transport, "star", 0.5)).state is PrinterState.ONLINE
