"""Sweeping 127.0.0.0/24: only hosts answering ESC/POS (or Star) status count. Loopback only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agent.discovery.sweep import (
    MAX_SWEEP_ADDRESSES,
    SweepRefused,
    parse_network,
    sweep,
    sweep_hosts,
)
from agent.simulators.brain import PrinterBrain, SimState
from agent.simulators.network import SimulatedNetworkPrinter
from shared.printers import DiscoverySource, PrinterState
from tests.agent.support import free_port, within

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A service that speaks first ("2" is 0x32, which looks like a status byte)."""
    writer.write(b"2")
    await reader.read(100)
    writer.write(b"2")
    await writer.drain()
    writer.close()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A service that answers anything with bytes that are not status replies."""
    await reader.read(100)
    writer.write(b"\xff")
    await writer.drain()
    await reader.read(100)
    writer.close()


async def verbose(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A service that answers with a whole line, starting with a status-like byte."""
    await reader.read(100)
    writer.write(b"220 ready\r\n")
    await writer.drain()
    await reader.read(100)
    writer.close()


@pytest.fixture
async def lan() -> AsyncIterator[int]:
    """Two printers, a non-ESC/POS listener and three impostors on 127.0.0.x, one port."""
    port = free_port()
    printers = [
        SimulatedNetworkPrinter(host="127.0.0.23", port=port),
        SimulatedNetworkPrinter(host="127.0.0.57", port=port, state=SimState.PAPER_OUT),
        SimulatedNetworkPrinter(host="127.0.0.88", port=port, answer_status=False),
        SimulatedNetworkPrinter(
            host="127.0.0.42", port=port, brain=PrinterBrain(SimState.COVER_OPEN, mode="star")
        ),
    ]
    for printer in printers:
        await printer.start()
    impostors: list[tuple[str, Handler]] = [
        ("127.0.0.99", chatty),
        ("127.0.0.100", garbage),
        ("127.0.0.101", verbose),
    ]
    servers = [await asyncio.start_server(h, host, port) for host, h in impostors]
    yield port
    for server in servers:
        server.close()
    for printer in printers:
        await printer.stop()


async def test_sweep_finds_exactly_the_printers(lan: int) -> None:
    with within(5.0):
        found = await sweep(["127.0.0.0/24"], port=lan, reply_timeout=0.3)
    assert sorted(p.printer_id for p in found) == [
        f"net:127.0.0.23:{lan}",
        f"net:127.0.0.42:{lan}",
        f"net:127.0.0.57:{lan}",
    ]
    by_host = {p.host: p for p in found}
    assert all(p.source is DiscoverySource.SWEEP for p in found)
    assert by_host["127.0.0.23"].status is not None
    assert by_host["127.0.0.23"].status.state is PrinterState.ONLINE
    assert by_host["127.0.0.57"].status is not None
    assert by_host["127.0.0.57"].status.state is PrinterState.PAPER_OUT
    star = by_host["127.0.0.42"]
    assert star.status_channel == "star" and by_host["127.0.0.23"].status_channel == "escpos"
    assert star.status is not None and star.status.state is PrinterState.COVER_OPEN


async def test_sweep_of_a_single_host(lan: int) -> None:
    found = await sweep(["127.0.0.23/32"], port=lan)
    assert [p.host for p in found] == ["127.0.0.23"]


async def test_sweep_of_an_empty_network_is_quick() -> None:
    with within(2.0):
        assert await sweep(["127.0.0.0/26"], port=free_port()) == []


def test_large_networks_are_refused() -> None:
    with pytest.raises(SweepRefused, match="limit is 1024"):
        parse_network("10.0.0.0/21")
    assert parse_network("10.0.0.0/22").num_addresses == MAX_SWEEP_ADDRESSES
    with pytest.raises(SweepRefused, match="at once"):
        sweep_hosts(["10.0.0.0/22", "10.0.4.0/22"])


@pytest.mark.parametrize("bad", ["", "10.0.0.0/33", "printer.local", "300.1.1.0/24"])
def test_malformed_networks_are_refused(bad: str) -> None:
    with pytest.raises(SweepRefused, match="not a network"):
        parse_network(bad)


def test_hosts_are_distinct_and_exclude_network_and_broadcast() -> None:
    hosts = sweep_hosts(["192.168.1.0/30", "192.168.1.1/32"])
    assert [str(h) for h in hosts] == ["192.168.1.1", "192.168.1.2"]
