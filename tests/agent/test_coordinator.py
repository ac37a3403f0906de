"""The coordinator's print: refused before the write, printed, or unconfirmed after it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent.coordinator import PrinterCoordinator, PrintFailed, PrintUnconfirmed
from agent.simulators.brain import SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.transports import Transport, open_transport
from shared.printers import PrinterInfo

JOB = b"\x1b@RECEIPT-1\n\x1dV\x00"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter() as printer:
        yield printer


async def _open(info: PrinterInfo, timeout: float) -> Transport:
    return await open_transport(info, timeout=timeout)


def _coordinator(sim: SimulatedNetworkPrinter) -> PrinterCoordinator:
    return PrinterCoordinator(sim.printer_info(), _open, io_timeout=1.0)


async def test_a_fine_printer_prints(sim: SimulatedNetworkPrinter) -> None:
    coordinator = _coordinator(sim)
    status = await coordinator.print_bytes(JOB)
    assert status.ready and sim.count_jobs_containing("RECEIPT-1") == 1
    await coordinator.close()


async def test_a_printer_not_ready_before_the_write_gets_nothing(
    sim: SimulatedNetworkPrinter,
) -> None:
    sim.set_state(SimState.PAPER_OUT)
    coordinator = _coordinator(sim)
    wrote = []

    async def before_write() -> None:
        wrote.append(True)

    with pytest.raises(PrintFailed) as caught:
        await coordinator.print_bytes(JOB, before_write)
    assert not isinstance(caught.value, PrintUnconfirmed)
    assert caught.value.error.code == "paper_out"
    assert wrote == [] and sim.brain.rejected == b""
    await coordinator.close()


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (SimState.PAPER_OUT, "paper_out"),
        (SimState.COVER_OPEN, "cover_open"),
        (SimState.POWERED_OFF, "printer_not_responding"),
    ],
)
async def test_a_fault_between_the_check_and_the_write_is_unconfirmed(
    sim: SimulatedNetworkPrinter, fault: SimState, code: str
) -> None:
    coordinator = _coordinator(sim)

    async def before_write() -> None:
        sim.set_state(fault)  # the printer goes wrong after the check said it was fine

    with pytest.raises(PrintUnconfirmed) as caught:
        await coordinator.print_bytes(JOB, before_write)
    assert caught.value.error.code in (code, "connection_closed")
    assert "may" in caught.value.error.message
    assert sim.count_jobs_containing("RECEIPT-1") == 0
    assert coordinator.status.ready is False
    await coordinator.close()
