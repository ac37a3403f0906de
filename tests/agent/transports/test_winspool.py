"""The Windows spooler transport against the fake win32print (the one seam).

Marked ``windows``: the same tests run on a Windows runner against the real pywin32 with a
printer on the ``nul`` port (.github/workflows/windows-spooler.yml); there the fake is not
installed and the printer comes from the ``CHIT_TEST_WINDOWS_PRINTER`` variable.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator

import pytest

from agent.simulators import fake_win32print
from agent.simulators.brain import PrinterBrain, SimState
from agent.simulators.fake_win32print import FakeSpooler
from agent.transports import query_status
from agent.transports.errors import PrinterNotFound, TransportError, TransportTimeout
from agent.transports.winspool import WinSpoolTransport, spooler_status
from agent.transports.winspool_api import spooler_api
from shared.printers import PrinterState, StatusSource

pytestmark = pytest.mark.windows

REAL_PRINTER = os.environ.get("CHIT_TEST_WINDOWS_PRINTER")
ON_WINDOWS = sys.platform == "win32" and REAL_PRINTER is not None


@pytest.fixture
def spooler() -> Iterator[FakeSpooler | None]:
    """The fake spooler here; on the Windows runner, the real one (None)."""
    if ON_WINDOWS:
        yield None
        return
    fake = fake_win32print.install()
    yield fake
    fake_win32print.uninstall()


def _printer(spooler: FakeSpooler | None, brain: PrinterBrain | None = None) -> str:
    """A printer on the nul port (the runner's, or a new one in the fake)."""
    if spooler is None:
        assert REAL_PRINTER is not None
        return REAL_PRINTER
    spooler.add_printer("Chit Receipt", "nul", brain=brain)
    return "Chit Receipt"


async def test_a_raw_job_goes_through_the_spooler_once(spooler: FakeSpooler | None) -> None:
    brain = PrinterBrain()
    name = _printer(spooler, brain)
    transport = await WinSpoolTransport.open(name)
    try:
        await transport.write(b"\x1b@through the spooler\n\x1dV\x00")
        assert transport.last_job_id is not None
        if spooler is not None:
            assert brain.count_jobs_containing(b"through the spooler") == 1
            assert spooler.jobs(name) == []
    finally:
        await transport.close()


async def test_status_on_a_one_way_port_comes_from_the_queue(spooler: FakeSpooler | None) -> None:
    transport = await WinSpoolTransport.open(_printer(spooler, PrinterBrain()))
    try:
        status = await query_status(transport, 0.5)
        assert status.state is PrinterState.QUEUE_READY
        assert status.source is StatusSource.QUEUE
        assert status.online is None
        if spooler is not None:
            assert spooler.read_calls == 0  # not bidirectional: no ReadPrinter, no status job
    finally:
        await transport.close()


async def test_an_unknown_printer_is_not_found(spooler: FakeSpooler | None) -> None:
    with pytest.raises(PrinterNotFound):
        await WinSpoolTransport.open("No Such Printer 4711")


@pytest.mark.skipif(ON_WINDOWS, reason="drives the fake spooler's printer and port")
async def test_a_bidirectional_usb_port_reports_the_hardware(spooler: FakeSpooler | None) -> None:
    assert spooler is not None
    brain = PrinterBrain(SimState.PAPER_OUT)
    spooler.add_port("USB001", bidirectional=True)
    spooler.add_printer("EPSON TM-T20III Receipt", "USB001", driver="EPSON TM-T20III Receipt5",
                        brain=brain, bidi=True)  # fmt: skip
    transport = await WinSpoolTransport.open("EPSON TM-T20III Receipt")
    try:
        assert transport.bidirectional
        status = await transport.status(0.5)
        assert status.source is StatusSource.HARDWARE
        assert status.state is PrinterState.PAPER_OUT and status.paper_out
        brain.set_state(SimState.OK)
        status = await transport.status(0.5)
        assert status.state is PrinterState.ONLINE and status.online is True
        assert brain.printed == b""  # the status jobs carried only DLE EOT
    finally:
        await transport.close()


@pytest.mark.skipif(ON_WINDOWS, reason="pauses the fake spooler's queue")
async def test_a_paused_queue_is_offline_and_a_waiting_job_cancelled(
    spooler: FakeSpooler | None,
) -> None:
    assert spooler is not None
    brain = PrinterBrain()
    name = _printer(spooler, brain)
    spooler.pause(name)
    transport = await WinSpoolTransport.open(name)
    try:
        status = await transport.status(0.5)
        assert status.state is PrinterState.OFFLINE and "paused" in (status.detail or "")
        with pytest.raises(TransportError) as caught:
            await transport.write(b"held\n\x1dV\x00")
        assert caught.value.code == "printer_offline"
        assert "cancelled so it cannot print later" in caught.value.message
        spooler.pause(name, paused=False)
        assert brain.printed == b""
    finally:
        await transport.close()


@pytest.mark.skipif(ON_WINDOWS, reason="cancels a job in the fake spooler")
async def test_a_job_cancelled_by_a_person_is_a_clear_error(spooler: FakeSpooler | None) -> None:
    assert spooler is not None
    name = _printer(spooler, PrinterBrain())
    transport = await WinSpoolTransport.open(name)
    original = spooler.end_document

    def hold_then_cancel(
        printer: fake_win32print.FakePrinter, job: fake_win32print.FakeJob
    ) -> None:
        job.ended = True  # spooled but not despooled: a person cancels it from the queue window
        threading.Timer(0.2, spooler.cancel, (name, job.job_id)).start()

    spooler.end_document = hold_then_cancel  # type: ignore[method-assign]
    try:
        with pytest.raises(TransportError) as caught:
            await transport.write(b"cancel me\n")
        assert caught.value.code == "job_cancelled"
        assert f"job {transport.last_job_id} was cancelled" in caught.value.message
    finally:
        spooler.end_document = original  # type: ignore[method-assign]
        await transport.close()


@pytest.mark.skipif(ON_WINDOWS, reason="holds a job in the fake spooler")
async def test_a_job_that_never_leaves_is_cancelled_at_the_timeout(
    spooler: FakeSpooler | None,
) -> None:
    assert spooler is not None
    name = _printer(spooler, PrinterBrain())
    transport = await WinSpoolTransport.open(name, job_timeout=0.5)
    spooler.end_document = lambda printer, job: setattr(job, "ended", True)  # type: ignore[method-assign]
    try:
        with pytest.raises(TransportTimeout) as caught:
            await transport.write(b"stuck\n")
        assert "cancelled" in caught.value.message
        await asyncio.sleep(0)
        [job] = spooler.jobs(name)
        assert job.status & fake_win32print.JOB_STATUS_DELETING
    finally:
        await transport.close()


def test_queue_status_bits_map_to_states() -> None:
    def state(status: int = 0, attributes: int = 0) -> PrinterState:
        return spooler_status("Q", {"Status": status, "Attributes": attributes}).state

    assert state() is PrinterState.QUEUE_READY
    assert state(fake_win32print.PRINTER_STATUS_PAPER_OUT) is PrinterState.PAPER_OUT
    assert state(fake_win32print.PRINTER_STATUS_DOOR_OPEN) is PrinterState.COVER_OPEN
    assert state(fake_win32print.PRINTER_STATUS_OFFLINE) is PrinterState.OFFLINE
    assert state(fake_win32print.PRINTER_STATUS_PAUSED) is PrinterState.OFFLINE
    assert state(fake_win32print.PRINTER_STATUS_ERROR) is PrinterState.ERROR
    assert state(attributes=fake_win32print.PRINTER_ATTRIBUTE_WORK_OFFLINE) is PrinterState.OFFLINE


@pytest.mark.skipif(ON_WINDOWS, reason="asks for the spooler of another platform")
def test_pywin32_is_imported_only_on_windows() -> None:
    assert spooler_api(platform="linux") is None
    fake = fake_win32print.install()
    try:
        api = spooler_api(platform="linux")
        assert api is not None and api.win32print is fake_win32print
        assert fake is fake_win32print.spooler()
    finally:
        fake_win32print.uninstall()
    assert "win32print" not in sys.modules
