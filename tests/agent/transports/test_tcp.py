"""TcpTransport against the simulated network printer, over loopback only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agent.simulators.brain import SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.transports import PrinterNotFound, TcpTransport, TransportClosed
from tests.agent.support import free_port, within


async def poll_until_closed(transport: TcpTransport) -> None:
    """Ask for status until the link breaks (the abort lands within an iteration or two)."""
    for _ in range(20):
        await transport.write(b"\x10\x04\x01")
        await transport.read(1, 0.05)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter() as printer:
        yield printer


async def test_write_prints_and_status_query_is_answered(sim: SimulatedNetworkPrinter) -> None:
    transport = await TcpTransport.connect(sim.host, sim.port)
    await transport.write(b"hello corr-42\n\x1dV\x00")
    await transport.write(b"\x10\x04\x01")
    assert await transport.read(1, 2.0) == b"\x12"
    await transport.close()
    assert sim.count_jobs_containing("corr-42") == 1
    assert b"\x10\x04" not in sim.printed


async def test_read_times_out_with_empty_bytes(sim: SimulatedNetworkPrinter) -> None:
    transport = await TcpTransport.connect(sim.host, sim.port)
    with within(1.0):
        assert await transport.read(1, 0.2) == b""
    await transport.close()


async def test_large_write_is_chunked_and_complete(sim: SimulatedNetworkPrinter) -> None:
    transport = await TcpTransport.connect(sim.host, sim.port)
    payload = b"x" * 200_000 + b"\x1dV\x00"
    await transport.write(payload, timeout=5.0)
    await transport.write(b"\x10\x04\x01")
    assert await transport.read(1, 2.0) == b"\x12"  # answered after all the data
    await transport.close()
    assert sim.printed == payload


async def test_refused_connection_is_printer_not_found() -> None:
    port = free_port()
    with within(2.0), pytest.raises(PrinterNotFound) as caught:
        await TcpTransport.connect("127.0.0.1", port, connect_timeout=1.0)
    assert caught.value.code == "printer_not_found"
    assert f"127.0.0.1:{port}" in caught.value.message


async def test_powered_off_printer_drops_the_link(sim: SimulatedNetworkPrinter) -> None:
    transport = await TcpTransport.connect(sim.host, sim.port)
    sim.set_state(SimState.POWERED_OFF)
    with within(2.0), pytest.raises(TransportClosed):
        await poll_until_closed(transport)
    await transport.close()


async def test_new_connections_to_a_powered_off_printer_are_closed(
    sim: SimulatedNetworkPrinter,
) -> None:
    sim.set_state(SimState.POWERED_OFF)
    transport = await TcpTransport.connect(sim.host, sim.port)
    await transport.write(b"\x10\x04\x01")
    with within(2.0), pytest.raises(TransportClosed):
        await transport.read(1, 1.0)
    await transport.close()


async def test_closed_transport_refuses_io(sim: SimulatedNetworkPrinter) -> None:
    transport = await TcpTransport.connect(sim.host, sim.port)
    await transport.close()
    await transport.close()  # twice is fine
    with pytest.raises(TransportClosed):
        await transport.write(b"x")
    with pytest.raises(TransportClosed):
        await transport.read(1, 0.1)


async def test_describe(sim: SimulatedNetworkPrinter) -> None:
    transport = await TcpTransport.connect(sim.host, sim.port)
    assert transport.describe() == f"tcp://127.0.0.1:{sim.port}"
    await transport.close()


async def test_stop_drops_clients(sim: SimulatedNetworkPrinter) -> None:
    transport = await TcpTransport.connect(sim.host, sim.port)
    await asyncio.sleep(0.01)
    await sim.stop()
    with within(2.0), pytest.raises(TransportClosed):
        await transport.read(1, 1.0)
    await transport.close()
