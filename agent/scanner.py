"""One scan: every discovery method at once, each bounded, merged by the tracker.

A method that fails or times out does not count as "saw nothing" for its source, so a flaky
scan never starts the three-miss countdown that removes printers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agent.discovery.identify import NetworkIdentifier
from agent.discovery.manual import ManualEntryError, manual_printers
from agent.discovery.queues import discover_queues, parse_path_choices, reconcile
from agent.discovery.sweep import SweepRefused, sweep
from agent.discovery.tracker import PrinterTracker, ScanDiff
from agent.discovery.usb import discover_usb
from agent.settings import AgentSettings
from agent.transports.errors import TransportError
from shared.printers import DiscoverySource, PrinterInfo

log = logging.getLogger("chit.agent.discovery")

Method = Callable[[], Awaitable[list[PrinterInfo]]]


@dataclass
class ScanReport:
    """What one scan found, how long each method took, and which failed."""

    diff: ScanDiff
    found: dict[DiscoverySource, int] = field(default_factory=dict)
    seconds: dict[DiscoverySource, float] = field(default_factory=dict)
    errors: dict[DiscoverySource, str] = field(default_factory=dict)


@dataclass
class Scanner:
    """The discovery methods enabled by settings, run together."""

    settings: AgentSettings
    usb_backend: Any = None
    mdns_interfaces: Any = None
    tracker: PrinterTracker = field(default_factory=PrinterTracker)
    identifier: NetworkIdentifier = field(default_factory=NetworkIdentifier)

    def methods(self) -> dict[DiscoverySource, Method]:
        """Discovery method per source, as enabled by settings."""
        s = self.settings
        methods: dict[DiscoverySource, Method] = {
            DiscoverySource.MANUAL: self._manual,
        }
        if s.usb:
            methods[DiscoverySource.USB] = lambda: discover_usb(self.usb_backend)
        if s.mdns:
            methods[DiscoverySource.MDNS] = self._mdns
        if s.subnets:
            methods[DiscoverySource.SWEEP] = lambda: sweep(s.subnets, port=s.sweep_port)
        if s.queues:
            methods[DiscoverySource.QUEUE] = discover_queues
        return methods

    async def scan(self, timeout: float = 30.0) -> ScanReport:
        """Run every method; feed the successful ones to the tracker."""
        methods = self.methods()
        outcomes = await asyncio.gather(*(_timed(m, timeout) for m in methods.values()))
        report = ScanReport(ScanDiff())
        found: list[PrinterInfo] = []
        ok_sources = []
        for source, (printers, seconds, error) in zip(methods, outcomes, strict=True):
            report.seconds[source] = seconds
            if error is not None:
                report.errors[source] = error
                log.warning("discovery failed", extra={"source": str(source), "error": error})
                continue
            ok_sources.append(source)
            report.found[source] = len(printers)
            found.extend(printers)
        # Network printers by who they are (serial, MAC), not only where they are.
        found = await self.identifier.identify(found, self.tracker.printers)
        # One entry per physical printer: a queue and its direct twin become one printer.
        choices = parse_path_choices(self.settings.printer_paths)
        found = reconcile(found, self.tracker.printers, choices)
        report.diff = self.tracker.observe(found, ok_sources)
        return report

    async def _manual(self) -> list[PrinterInfo]:
        try:
            return manual_printers(self.settings.manual_printers)
        except ManualEntryError as exc:
            raise RuntimeError(f"manual printer entry: {exc}") from None

    async def _mdns(self) -> list[PrinterInfo]:
        from agent.discovery.mdns import discover_mdns  # zeroconf only where mDNS is on

        if self.mdns_interfaces is not None:
            return await discover_mdns(interfaces=self.mdns_interfaces)
        return await discover_mdns()


async def _timed(method: Method, timeout: float) -> tuple[list[PrinterInfo], float, str | None]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(timeout):
            printers = await method()
        return printers, loop.time() - started, None
    except TimeoutError:
        return [], loop.time() - started, f"timed out after {timeout:g} s"
    except (OSError, RuntimeError, ValueError, SweepRefused, TransportError) as exc:
        return [], loop.time() - started, str(exc) or type(exc).__name__
