"""The CUPS transport against a real cupsd (the test's own) and a simulated network printer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agent.simulators.network import SimulatedNetworkPrinter
from agent.transports import query_status
from agent.transports.cups import CupsTransport, cups_status
from agent.transports.cups_client import CupsClient
from agent.transports.cups_server import CupsServer
from agent.transports.errors import PrinterNotFound, TransportError, TransportTimeout
from shared.printers import PrinterState, StatusSource
from tests.agent.support import free_port, within
from tests.cupsd import CupsDaemon


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    printer = SimulatedNetworkPrinter(name="Kitchen")
    await printer.start()
    yield printer
    await printer.stop()


async def _queue(cupsd: CupsDaemon, sim: SimulatedNetworkPrinter, name: str = "kitchen") -> str:
    await cupsd.add_raw_queue(name, f"socket://127.0.0.1:{sim.port}")
    return name


async def test_a_raw_job_reaches_the_printer_once(
    cupsd: CupsDaemon, sim: SimulatedNetworkPrinter
) -> None:
    queue = await _queue(cupsd, sim)
    transport = await CupsTransport.open(queue, server=cupsd.server)
    try:
        with within(15):
            await transport.write(b"\x1b@hello through cups\n\x1dV\x00")
        assert sim.count_jobs_containing(b"hello through cups") == 1
        assert sim.printed.count(b"hello through cups") == 1
        assert transport.last_job_id is not None
    finally:
        await transport.close()


async def test_the_domain_socket_works_too(cupsd: CupsDaemon, sim: SimulatedNetworkPrinter) -> None:
    queue = await _queue(cupsd, sim)
    transport = await CupsTransport.open(queue, server=cupsd.socket_server)
    try:
        await transport.write(b"via the socket\n\x1dV\x00")
        assert sim.count_jobs_containing(b"via the socket") == 1
    finally:
        await transport.close()


async def test_status_comes_from_the_queue_never_online(
    cupsd: CupsDaemon, sim: SimulatedNetworkPrinter
) -> None:
    queue = await _queue(cupsd, sim)
    transport = await CupsTransport.open(queue, server=cupsd.server)
    try:
        status = await query_status(transport, 0.5)
        assert status.state is PrinterState.QUEUE_READY
        assert status.source is StatusSource.QUEUE
        assert status.online is None
        assert status.ready
        assert "print queue" in (status.detail or "")
        assert sim.printed == b""  # no status query went out as a job
    finally:
        await transport.close()


async def test_a_stopped_queue_reports_offline_with_the_fix(
    cupsd: CupsDaemon, sim: SimulatedNetworkPrinter
) -> None:
    queue = await _queue(cupsd, sim)
    await cupsd.tool("cupsdisable", queue)
    transport = await CupsTransport.open(queue, server=cupsd.server)
    try:
        status = await transport.status(1.0)
        assert status.state is PrinterState.OFFLINE
        assert status.source is StatusSource.QUEUE
        assert "stopped" in (status.detail or "")
        assert f"cupsenable {queue}" in (status.detail or "")
        assert not status.ready
    finally:
        await transport.close()


async def test_a_job_in_a_queue_stopped_under_it_is_cancelled_and_reported(
    cupsd: CupsDaemon, sim: SimulatedNetworkPrinter
) -> None:
    queue = await _queue(cupsd, sim)
    transport = await CupsTransport.open(queue, server=cupsd.server)
    await cupsd.tool("cupsdisable", queue)  # stopped after the status check
    try:
        with pytest.raises(TransportError) as caught, within(15):
            await transport.write(b"never printed\n")
        assert caught.value.code == "printer_offline"
        assert "stopped" in caught.value.message and "cancelled" in caught.value.message
        await cupsd.tool("cupsenable", queue)
        await asyncio.sleep(1.0)
        assert sim.count_jobs_containing(b"never printed") == 0
    finally:
        await transport.close()


async def test_a_cancelled_job_is_a_clear_error(cupsd: CupsDaemon) -> None:
    dead = free_port()  # nothing listens: the socket backend keeps trying to connect
    await cupsd.add_raw_queue("nowhere", f"socket://127.0.0.1:{dead}")
    transport = await CupsTransport.open("nowhere", server=cupsd.server)

    async def cancel_when_submitted() -> None:
        while transport.last_job_id is None:
            await asyncio.sleep(0.05)
        await cupsd.tool("cancel", f"nowhere-{transport.last_job_id}")

    try:
        canceller = asyncio.create_task(cancel_when_submitted())
        with pytest.raises(TransportError) as caught, within(20):
            await transport.write(b"cancel me\n")
        await canceller
        assert caught.value.code == "job_cancelled"
        assert f"job {transport.last_job_id} was cancelled" in caught.value.message
    finally:
        await transport.close()


async def test_a_job_that_does_not_finish_in_time_is_cancelled(cupsd: CupsDaemon) -> None:
    await cupsd.add_raw_queue("slow", f"socket://127.0.0.1:{free_port()}")
    transport = await CupsTransport.open("slow", server=cupsd.server, job_timeout=1.0)
    try:
        with pytest.raises(TransportTimeout) as caught, within(10):
            await transport.write(b"too late\n", timeout=0.5)
        assert "cancelled so it cannot print later" in caught.value.message
        assert transport.last_job_id is not None
        job = await transport.client.job("slow", transport.last_job_id)
        assert int(job["job-state"]) == 7  # cancelled
    finally:
        await transport.close()


async def test_an_unknown_queue_is_not_found(cupsd: CupsDaemon) -> None:
    with pytest.raises(PrinterNotFound) as caught:
        await CupsTransport.open("no-such-queue", server=cupsd.server)
    assert "no-such-queue" in caught.value.message


async def test_no_server_is_a_bounded_not_found() -> None:
    with pytest.raises(PrinterNotFound) as caught, within(5):
        await CupsTransport.open("q", server=CupsServer("127.0.0.1", free_port()), timeout=2)
    assert "cupsd running" in caught.value.message


async def test_a_silent_server_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TransportTimeout), within(4):
            await CupsTransport.open("q", server=CupsServer("127.0.0.1", port), timeout=1)
    finally:
        server.close()


async def test_the_queues_are_listed(cupsd: CupsDaemon, sim: SimulatedNetworkPrinter) -> None:
    await _queue(cupsd, sim, "kitchen")
    await cupsd.add_raw_queue("bar", "socket://127.0.0.1:9", "-D", "Bar printer")
    client = CupsClient(cupsd.server)
    try:
        queues = {q["printer-name"]: q for q in await client.printers()}
    finally:
        await client.close()
    assert set(queues) == {"kitchen", "bar"}
    assert queues["kitchen"]["device-uri"] == f"socket://127.0.0.1:{sim.port}"
    assert queues["bar"]["printer-info"] == "Bar printer"


def test_queue_reasons_map_to_states() -> None:
    idle = {"printer-state": 3, "printer-is-accepting-jobs": True}
    assert cups_status("q", {**idle, "printer-state-reasons": "none"}).state is (
        PrinterState.QUEUE_READY
    )
    paper = cups_status("q", {**idle, "printer-state-reasons": ["media-empty-error"]})
    assert paper.state is PrinterState.PAPER_OUT and paper.paper_out
    cover = cups_status("q", {**idle, "printer-state-reasons": ["cover-open-warning"]})
    assert cover.state is PrinterState.COVER_OPEN
    offline = cups_status("q", {**idle, "printer-state-reasons": ["offline-report"]})
    assert offline.state is PrinterState.OFFLINE
    rejecting = cups_status("q", {**idle, "printer-is-accepting-jobs": False})
    assert rejecting.state is PrinterState.OFFLINE and "cupsaccept q" in (rejecting.detail or "")
    for status in (paper, cover, offline, rejecting):
        assert status.source is StatusSource.QUEUE and status.online is None
