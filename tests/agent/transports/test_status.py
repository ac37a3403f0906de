"""query_status end to end, against the network simulator and the fake USB printer alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from agent.simulators.brain import PrinterBrain, SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.usb_backend import FakeUsbBackend, FakeUsbPrinter
from agent.transports import (
    PrinterNotFound,
    TcpTransport,
    Transport,
    TransportClosed,
    UsbTransport,
    probe_escpos,
    query_status,
)
from agent.transports.status import discard_input
from shared.printers import PrinterState
from tests.agent.support import within

EXPECTED = [
    (SimState.OK, PrinterState.ONLINE),
    (SimState.PAPER_NEAR_END, PrinterState.PAPER_NEAR_END),
    (SimState.PAPER_OUT, PrinterState.PAPER_OUT),
    (SimState.COVER_OPEN, PrinterState.COVER_OPEN),
    (SimState.OFFLINE, PrinterState.OFFLINE),
    (SimState.ERROR, PrinterState.ERROR),
]


@asynccontextmanager
async def connected(kind: str, brain: PrinterBrain) -> AsyncIterator[Transport]:
    """A transport of ``kind`` to a simulated printer driven by ``brain``."""
    if kind == "tcp":
        async with SimulatedNetworkPrinter(brain=brain) as sim:
            tcp = await TcpTransport.connect(sim.host, sim.port)
            yield tcp
            await tcp.close()
    else:
        backend = FakeUsbBackend([FakeUsbPrinter(brain=brain)])
        usb = await UsbTransport.open(0x04B8, 0x0E15, backend=backend)
        yield usb
        await usb.close()


KINDS = ["tcp", "usb"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("sim_state", "state"), EXPECTED)
async def test_every_state(kind: str, sim_state: SimState, state: PrinterState) -> None:
    async with connected(kind, PrinterBrain(sim_state)) as transport:
        with within(2.0):
            status = await query_status(transport, 1.0)
    assert status.state is state
    assert status.online is (sim_state in (SimState.OK, SimState.PAPER_NEAR_END))
    assert status.detail is None or "no reply" not in status.detail


@pytest.mark.parametrize("kind", KINDS)
async def test_state_changes_are_seen_on_the_same_link(kind: str) -> None:
    brain = PrinterBrain()
    async with connected(kind, brain) as transport:
        assert (await query_status(transport)).state is PrinterState.ONLINE
        brain.set_state(SimState.COVER_OPEN)
        assert (await query_status(transport)).cover_open
        brain.set_state(SimState.OK)
        assert (await query_status(transport)).ready


@pytest.mark.parametrize("kind", KINDS)
async def test_silent_printer_is_unknown_after_one_timeout(kind: str) -> None:
    async with connected(kind, PrinterBrain(answer_status=False)) as transport:
        with within(0.6):  # one 0.2 s timeout, not four
            status = await query_status(transport, 0.2)
    assert status.state is PrinterState.UNKNOWN
    assert status.online is None
    assert not status.ready


@pytest.mark.parametrize("kind", KINDS)
async def test_stale_bytes_are_discarded_before_a_round(kind: str) -> None:
    brain = PrinterBrain(SimState.PAPER_OUT)
    async with connected(kind, brain) as transport:
        await transport.write(b"\x10\x04\x01")  # a reply we never read
        await asyncio.sleep(0.05)  # ... that has arrived by now
        brain.set_state(SimState.OK)
        status = await query_status(transport)
    assert status.state is PrinterState.ONLINE


async def test_status_carries_the_clock() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with connected("tcp", PrinterBrain()) as transport:
        status = await query_status(transport, clock=lambda: when)
    assert status.checked_at == when


async def test_powered_off_network_printer_breaks_the_link() -> None:
    brain = PrinterBrain()
    async with connected("tcp", brain) as transport:
        brain.set_state(SimState.POWERED_OFF)
        with within(2.0), pytest.raises(TransportClosed):
            await query_status(transport, 0.3)


async def test_unplugged_usb_printer_is_not_found() -> None:
    brain = PrinterBrain()
    async with connected("usb", brain) as transport:
        brain.set_state(SimState.POWERED_OFF)
        with within(1.0), pytest.raises(PrinterNotFound):
            await query_status(transport, 0.3)


@pytest.mark.parametrize("kind", KINDS)
async def test_probe_accepts_printers(kind: str) -> None:
    async with connected(kind, PrinterBrain(SimState.COVER_OPEN)) as transport:
        assert await probe_escpos(transport, 0.5) == 0x1A  # offline bit set: still ESC/POS


async def test_probe_rejects_a_silent_service() -> None:
    async with connected("tcp", PrinterBrain(answer_status=False)) as transport:
        with within(1.0):
            assert await probe_escpos(transport, 0.2) is None


async def test_a_tcp_link_is_drained_without_waiting_for_bytes_that_never_come() -> None:
    """The drain before a round asks the socket's buffer, never a timed read (issue 14 §4)."""
    async with connected("tcp", PrinterBrain()) as transport:
        timed_reads: list[float] = []
        real_read = transport.read

        async def counting_read(size: int, timeout: float) -> bytes:
            timed_reads.append(timeout)
            return await real_read(size, timeout)

        transport.read = counting_read  # type: ignore[method-assign]
        assert await discard_input(transport) == 0
        assert timed_reads == []
        await transport.write(b"\x10\x04\x01")
        await asyncio.sleep(0.05)  # the reply has arrived
        assert await discard_input(transport) == 1
        assert timed_reads == []
