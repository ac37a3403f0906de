"""A fleet of simulated network printers on loopback, announced over mDNS.

Used by ``chit-agent simulate``, the demo and the end-to-end tests: start N printers on
``127.0.0.1`` (ephemeral ports), named like a restaurant's stations (Kitchen, Bar, Front
counter, then Printer 4, ...), and announce each as ``_pdl-datastream._tcp`` with address
127.0.0.1, on the loopback interface only by default, so nothing leaks onto the LAN. The agent
browses every interface, loopback included, so ``chit-agent discover`` finds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from types import TracebackType

from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from agent.discovery.mdns import PDL_DATASTREAM, instance_name
from agent.simulators.brain import SimState
from agent.simulators.network import SimulatedNetworkPrinter

#: What the simulated printers are called, like the stations of a restaurant.
DEFAULT_NAMES = ("Kitchen", "Bar", "Front counter")
_MDNS_TIMEOUT = 5.0


def printer_name(index: int, names: Sequence[str], prefix: str | None = None) -> str:
    """The name of the fleet's printer ``index``: ``prefix N``, else from ``names``."""
    if prefix is not None:
        return f"{prefix} {index + 1}"
    return names[index] if index < len(names) else f"Printer {index + 1}"


class SimulatorFleet:
    """N simulated network printers, started and announced together."""

    def __init__(
        self,
        count: int = 2,
        *,
        host: str = "127.0.0.1",
        announce: bool = True,
        interfaces: Sequence[str] = ("127.0.0.1",),
        name_prefix: str | None = None,
        names: Sequence[str] = DEFAULT_NAMES,
        states: Sequence[SimState] = (),
    ) -> None:
        if count < 1:
            raise ValueError("a fleet needs at least one printer")
        self.host = host
        self.announce = announce
        self.interfaces = list(interfaces)
        self.printers = [
            SimulatedNetworkPrinter(
                host=host,
                name=printer_name(n, names, name_prefix),
                state=states[n] if n < len(states) else SimState.OK,
            )
            for n in range(count)
        ]
        self._zeroconf: AsyncZeroconf | None = None
        self._services: list[ServiceInfo] = []

    async def start(self) -> None:
        """Start every printer, then announce them."""
        for printer in self.printers:
            await printer.start()
        if self.announce:
            await self._announce()

    async def stop(self) -> None:
        """Withdraw the announcements and stop every printer."""
        if self._zeroconf is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_MDNS_TIMEOUT):
                    await self._zeroconf.async_unregister_all_services()
                    await self._zeroconf.async_close()
            self._zeroconf = None
            self._services = []
        for printer in self.printers:
            await printer.stop()

    async def __aenter__(self) -> SimulatorFleet:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def service_info(self, printer: SimulatedNetworkPrinter) -> ServiceInfo:
        """The ``_pdl-datastream._tcp`` record announcing ``printer``."""
        label = f"chit-sim-{printer.port}"
        return ServiceInfo(
            PDL_DATASTREAM,
            f"{printer.name}.{PDL_DATASTREAM}",
            addresses=[socket.inet_aton(self.host)],
            port=printer.port,
            properties={"ty": "Chit Simulated TM", "usb_MFG": "Chit", "usb_MDL": "SimPrinter"},
            server=f"{label}.local.",
        )

    async def _announce(self) -> None:
        """Register every printer's service (probing for all at once)."""
        zc = self._zeroconf = AsyncZeroconf(interfaces=self.interfaces, ip_version=IPVersion.V4Only)
        self._services = [self.service_info(printer) for printer in self.printers]
        async with asyncio.timeout(_MDNS_TIMEOUT):
            await asyncio.gather(
                *(zc.async_register_service(i, allow_name_change=True) for i in self._services)
            )
        # A name already taken on the network was changed ("... 1-2"): keep the sims in step.
        for printer, info in zip(self.printers, self._services, strict=True):
            printer.name = instance_name(info.name, PDL_DATASTREAM)
