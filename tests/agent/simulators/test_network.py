"""The simulated network printer and the fleet, on loopback."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agent.simulators.brain import SimState
from agent.simulators.fleet import SimulatorFleet
from agent.simulators.network import SimulatedNetworkPrinter
from agent.transports import TcpTransport, TransportClosed
from shared.printers import Connection


async def test_ephemeral_port_and_printer_info() -> None:
    async with SimulatedNetworkPrinter(name="Bar") as sim:
        assert sim.port > 0
        info = sim.printer_info()
        # It answers GS I as a TM-T20III with its own serial: its id is the serial's.
        assert info.printer_id == f"net:sn:{sim.serial}"
        assert sim.serial != SimulatedNetworkPrinter().serial
        assert sim.address_id == f"net:127.0.0.1:{sim.port}"
        assert (info.connection, info.host, info.port, info.name) == (
            Connection.NETWORK,
            "127.0.0.1",
            sim.port,
            "Bar",
        )


async def test_port_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = SimulatedNetworkPrinter().port


async def test_power_off_from_another_thread_drops_connections() -> None:
    async with SimulatedNetworkPrinter() as sim:
        transport = await TcpTransport.connect(sim.host, sim.port)
        worker = threading.Thread(target=sim.set_state, args=(SimState.POWERED_OFF,))
        worker.start()
        worker.join(timeout=5)
        with pytest.raises(TransportClosed):
            await transport.read(1, 2.0)
        await transport.close()
        sim.set_state(SimState.OK)  # switched on again: accepts and answers
        again = await TcpTransport.connect(sim.host, sim.port)
        await again.write(b"\x10\x04\x01")
        assert await again.read(1, 2.0) == b"\x12"
        await again.close()


async def test_fleet_without_announcing() -> None:
    async with SimulatorFleet(3, announce=False, states=[SimState.PAPER_OUT]) as fleet:
        ports = {p.port for p in fleet.printers}
        assert len(ports) == 3
        assert [p.brain.state for p in fleet.printers] == [
            SimState.PAPER_OUT,
            SimState.OK,
            SimState.OK,
        ]
        transport = await TcpTransport.connect("127.0.0.1", fleet.printers[1].port)
        await transport.write(b"job\x1dV\x00")
        await transport.close()
        await asyncio.sleep(0.05)
        assert fleet.printers[1].count_jobs_containing("job") == 1


def test_fleet_needs_a_printer() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SimulatorFleet(0)
