"""The coordinator per status channel: detected at first contact, set by hand, and what a print
on each gives (printed when a status confirms it, sent when none can)."""

from __future__ import annotations

import functools

import pytest

from agent.coordinator import PrinterCoordinator, PrintFailed
from agent.discovery.usb import discover_usb
from agent.simulators.brain import PrinterBrain, SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.usb_backend import FakeUsbBackend, generic_pos58
from agent.transports import Transport, open_transport
from agent.transports.channels import SILENT_ROUNDS_FOR_NONE
from shared.printers import NO_STATUS_DETAIL, PrinterInfo, PrinterState
from tests.e2e.support import eventually

JOB = b"\x1b@RECEIPT-7\n\x1dV\x00"
#: The same job for a printer in Star mode: its cut is ``ESC d 2`` (``GS V`` cuts nothing there).
STAR_JOB = b"\x1b@RECEIPT-7\n\x1bd\x02"


async def _open(info: PrinterInfo, timeout: float, backend: object = None) -> Transport:
    return await open_transport(info, usb_backend=backend, timeout=timeout)


async def test_a_write_only_usb_printer_prints_unchecked_and_is_only_sent() -> None:
    device = generic_pos58()
    backend = FakeUsbBackend([device])
    [info] = await discover_usb(backend)
    assert info.status_channel == "none"  # known at discovery: no bulk-IN endpoint
    coordinator = PrinterCoordinator(info, functools.partial(_open, backend=backend), 1.0)
    status = await coordinator.refresh()
    assert status.state is PrinterState.NO_STATUS and status.detail == NO_STATUS_DETAIL
    after = await coordinator.print_bytes(JOB)
    assert after.state is PrinterState.NO_STATUS and not after.confirmed
    assert device.brain.count_jobs_containing("RECEIPT-7") == 1
    await coordinator.close()


async def test_a_silent_printer_becomes_none_after_a_few_rounds() -> None:
    # before that it is unknown, and a print is refused (nothing sent)
    async with SimulatedNetworkPrinter(answer_status=False) as sim:
        coordinator = PrinterCoordinator(sim.printer_info(), _open, 0.3)
        with pytest.raises(PrintFailed) as refused:
            await coordinator.print_bytes(JOB)
        assert refused.value.error.code == "printer_not_responding"
        assert sim.count_jobs_containing("RECEIPT-7") == 0
        await coordinator.close()
    async with SimulatedNetworkPrinter(answer_status=False) as sim:
        coordinator = PrinterCoordinator(sim.printer_info(), _open, 0.3)
        for _ in range(SILENT_ROUNDS_FOR_NONE - 1):
            assert (await coordinator.refresh()).state is PrinterState.UNKNOWN
            assert coordinator.channel is None
        assert sim.count_jobs_containing("RECEIPT-7") == 0
        after = await coordinator.print_bytes(JOB)  # its status read is the last silent round
        assert coordinator.channel == "none"
        assert coordinator.info.status_channel == "none"
        assert after.state is PrinterState.NO_STATUS and not after.confirmed
        await eventually(lambda: sim.count_jobs_containing("RECEIPT-7") == 1)  # no reply to wait on
        await coordinator.close()


async def test_a_printer_that_is_not_there_never_becomes_none() -> None:
    sim = SimulatedNetworkPrinter()
    await sim.start()
    info = sim.printer_info()
    await sim.stop()
    coordinator = PrinterCoordinator(info, _open, 0.3)
    for _ in range(SILENT_ROUNDS_FOR_NONE + 1):
        assert (await coordinator.refresh()).state is PrinterState.UNKNOWN
    assert coordinator.channel is None


async def test_a_star_printer_is_detected_and_its_paper_out_refuses_the_print() -> None:
    brain = PrinterBrain(SimState.PAPER_OUT, mode="star")
    async with SimulatedNetworkPrinter(brain=brain) as sim:
        coordinator = PrinterCoordinator(sim.printer_info(), _open, 0.5)
        assert (await coordinator.refresh()).state is PrinterState.PAPER_OUT
        assert coordinator.channel == "star"
        with pytest.raises(PrintFailed) as refused:
            await coordinator.print_bytes(STAR_JOB)
        assert refused.value.error.code == "paper_out"
        brain.set_state(SimState.OK)
        after = await coordinator.print_bytes(STAR_JOB)
        assert after.state is PrinterState.ONLINE and after.confirmed
        assert sim.count_jobs_containing("RECEIPT-7") == 1
        await coordinator.close()


async def test_a_channel_set_by_hand_wins_and_auto_detects_again() -> None:
    async with SimulatedNetworkPrinter() as sim:
        coordinator = PrinterCoordinator(sim.printer_info(), _open, 0.5, channel_override="none")
        assert (await coordinator.refresh()).state is PrinterState.NO_STATUS
        assert sim.brain.queries == 0  # never asked
        coordinator.set_info(sim.printer_info())  # a rescan keeps the choice
        assert coordinator.channel == "none"
        status = await coordinator.set_channel(None)
        assert status.state is PrinterState.ONLINE and coordinator.channel == "escpos"
        await coordinator.set_channel("star")
        assert coordinator.info.status_channel == "star"
        assert coordinator.status.state is PrinterState.UNKNOWN  # an ESC/POS printer is no Star
        await coordinator.close()


async def test_a_rescan_keeps_the_detected_channel() -> None:
    async with SimulatedNetworkPrinter() as sim:
        coordinator = PrinterCoordinator(sim.printer_info(), _open, 0.5)
        await coordinator.refresh()
        coordinator.set_info(sim.printer_info().model_copy(update={"name": "Bar"}))
        assert coordinator.info.name == "Bar" and coordinator.info.status_channel == "escpos"
        await coordinator.close()


async def test_the_drawer_opens_on_a_printer_without_status() -> None:
    device = generic_pos58()
    backend = FakeUsbBackend([device])
    [info] = await discover_usb(backend)
    coordinator = PrinterCoordinator(info, functools.partial(_open, backend=backend), 1.0)
    await coordinator.command(lambda status: b"\x1bp\x00\x32\xfa")
    [pulse] = device.brain.pulses
    assert pulse.command == "ESC p"
    await coordinator.close()
