"""mDNS/DNS-SD discovery of network printers, bounded in time.

Browses for a fixed time (2.5 s by default), then resolves each service found (1 s each, in
parallel). What becomes a candidate:

* ``_pdl-datastream._tcp`` advertises raw printing at its own port: always a candidate, at
  the advertised host and port, with its status when it answers ESC/POS (a laser printer
  advertising raw printing shows up with no status).
* ``_printer._tcp`` (LPD) and ``_ipp._tcp`` advertise protocols the agent does not speak;
  they only tell us a printer lives at that host. The host becomes a candidate at the raw
  port (9100) only if that port answers ESC/POS status; the advertised port is not used.

The id is ``net:{host}:{port}`` like every network printer; the TXT record's make and model
go into the PrinterInfo. IPv4 only: IPv6 link-local addresses need zone ids that do not
survive a trip to the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from agent.discovery.network import network_printer, probe_network_printer
from agent.transports.tcp import DEFAULT_PORT
from shared.printers import DiscoverySource, PrinterInfo, PrinterStatus

log = logging.getLogger(__name__)

PDL_DATASTREAM = "_pdl-datastream._tcp.local."
LPD_PRINTER = "_printer._tcp.local."
IPP = "_ipp._tcp.local."
SERVICE_TYPES = (PDL_DATASTREAM, LPD_PRINTER, IPP)

DEFAULT_BROWSE_TIME = 2.5
DEFAULT_RESOLVE_TIMEOUT = 1.0
_CLOSE_TIMEOUT = 2.0

#: Where to browse: all interfaces, or addresses like ``["127.0.0.1"]``.
Interfaces = InterfaceChoice | Sequence[str]
Probe = Callable[[str, int], Awaitable[PrinterStatus | None]]


@dataclass(frozen=True)
class MdnsService:
    """One resolved service instance."""

    service_type: str
    instance: str
    host: str
    port: int
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str | None:
        """Make and model from the TXT record (IPP/Bonjour printing keys)."""
        props = self.properties
        product = props.get("product", "").strip("()") or None
        return props.get("usb_MDL") or props.get("ty") or product

    @property
    def mac(self) -> str | None:
        """The MAC address some printers put in their TXT record (``mac``, ``MAC``)."""
        props = self.properties
        return props.get("mac") or props.get("MAC") or props.get("macaddress") or None

    @property
    def manufacturer(self) -> str | None:
        """The manufacturer from the TXT record, if given."""
        return self.properties.get("usb_MFG") or None


def instance_name(name: str, service_type: str) -> str:
    """``Kitchen TM-T20`` from ``Kitchen TM-T20._pdl-datastream._tcp.local.``."""
    return name.removesuffix("." + service_type)


async def browse(
    zc: AsyncZeroconf, service_types: Sequence[str], seconds: float
) -> set[tuple[str, str]]:
    """``(service_type, name)`` of every instance seen within ``seconds``."""
    seen: set[tuple[str, str]] = set()

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Removed:
            seen.add((service_type, name))

    browser = AsyncServiceBrowser(zc.zeroconf, list(service_types), handlers=[on_change])
    try:
        await asyncio.sleep(seconds)
    finally:
        await browser.async_cancel()
    return seen


async def resolve(
    zc: AsyncZeroconf,
    service_type: str,
    name: str,
    timeout: float,
) -> MdnsService | None:
    """The host, port and TXT record of one instance, or None if it does not resolve."""
    info = AsyncServiceInfo(service_type, name)
    if not await info.async_request(zc.zeroconf, timeout * 1000):
        return None
    addresses = info.parsed_addresses(IPVersion.V4Only)
    if not addresses or not info.port:
        return None
    props = {k: v for k, v in info.decoded_properties.items() if v is not None}
    return MdnsService(
        service_type, instance_name(name, service_type), addresses[0], info.port, props
    )


async def _candidate(
    service: MdnsService, probe: Probe | None, raw_port: int
) -> PrinterInfo | None:
    """The printer candidate for one service, per the rules in the module docstring."""
    raw = service.service_type == PDL_DATASTREAM
    port = service.port if raw else raw_port
    status = await probe(service.host, port) if probe is not None else None
    if not raw and status is None:
        return None
    return network_printer(
        service.host,
        port,
        DiscoverySource.MDNS,
        name=service.instance,
        model=service.model,
        manufacturer=service.manufacturer,
        status=status,
        mac=service.mac,
    )


def _merge(candidates: Sequence[PrinterInfo | None]) -> list[PrinterInfo]:
    """One candidate per printer id; the first (raw-printing services come first) wins."""
    merged: dict[str, PrinterInfo] = {}
    for info in candidates:
        if info is not None:
            merged.setdefault(info.printer_id, info)
    return list(merged.values())


async def _discover(
    zc: AsyncZeroconf,
    service_types: Sequence[str],
    browse_time: float,
    resolve_timeout: float,
    probe: Probe | None,
    raw_port: int,
) -> list[PrinterInfo]:
    """Browse, resolve and probe with an open Zeroconf."""
    seen = sorted(
        await browse(zc, service_types, browse_time), key=lambda s: service_types.index(s[0])
    )
    resolved = await asyncio.gather(*(resolve(zc, t, n, resolve_timeout) for t, n in seen))
    services = [s for s in resolved if s is not None]
    candidates = await asyncio.gather(*(_candidate(s, probe, raw_port) for s in services))
    return _merge(candidates)


async def discover_mdns(
    *,
    interfaces: Interfaces = InterfaceChoice.All,
    browse_time: float = DEFAULT_BROWSE_TIME,
    resolve_timeout: float = DEFAULT_RESOLVE_TIMEOUT,
    probe: Probe | None = probe_network_printer,
    raw_port: int = DEFAULT_PORT,
    service_types: Sequence[str] = SERVICE_TYPES,
    zeroconf: AsyncZeroconf | None = None,
) -> list[PrinterInfo]:
    """Network printers announced over mDNS on ``interfaces`` (e.g. ``["127.0.0.1"]``).

    Pass ``zeroconf`` to reuse an open instance (``interfaces`` is then ignored);
    ``probe=None`` skips the ESC/POS check (and so the LPD/IPP services).
    """
    own = zeroconf is None
    zc = zeroconf or AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
    try:
        return await _discover(zc, service_types, browse_time, resolve_timeout, probe, raw_port)
    finally:
        if own:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await zc.async_close()
