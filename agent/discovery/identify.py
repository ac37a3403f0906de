"""Who each network printer is: its serial (``GS I 68``) or MAC, asked once per new address.

Discovery finds addresses; this step turns them into printers. A network candidate at an
address not seen before is asked ``GS I`` over a short connection of its own (bounded; a
candidate the sweep found speaking Star's status is asked Star's ``ESC # * LF NUL`` instead,
which gives its model but no serial), and
the answer is kept for that address, so the sweep every minute costs no extra connection.
Every candidate at one address (mDNS, sweep, typed by hand) then gets the same id
(agent.discovery.network.network_printer_id: serial, else MAC, else the address) and the
printer's identity (agent.identity.apply_identity).

An address missing from a scan is forgotten, so whatever answers there later (after a DHCP
change) is asked afresh. A serial reported at two addresses in one scan (clones that all
report the same one) identifies neither: both keep address or MAC ids. An address whose
printer does not answer keeps the id the printer already had there, so a printer busy with
the agent's own connection never turns into a second printer. The agent's coordinator asks
again on each connection of its own and tells :meth:`NetworkIdentifier.learn` the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

from agent.discovery.network import network_printer_id, normalize_mac
from agent.identity import apply_identity
from agent.transports.errors import TransportError
from agent.transports.identity import DEFAULT_IDENTITY_TIMEOUT, query_channel_identity
from agent.transports.tcp import TcpTransport
from shared.escpos.identity import PrinterIdentity
from shared.printers import Connection, DiscoverySource, PrinterInfo, StatusChannel

log = logging.getLogger(__name__)

Address = tuple[str, int]
Asker = Callable[[str, int, StatusChannel | None], Awaitable[PrinterIdentity]]
ArpLookup = Callable[[str], str | None]

ARP_TABLE = Path("/proc/net/arp")
DEFAULT_CONNECT_TIMEOUT = 1.0


async def ask_network_identity(
    host: str,
    port: int,
    channel: StatusChannel | None = None,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    reply_timeout: float = DEFAULT_IDENTITY_TIMEOUT,
) -> PrinterIdentity:
    """What the printer at ``host:port`` says it is (empty when it cannot be asked): Star's
    question for a ``star`` channel, else ``GS I`` (the channel is often not known yet)."""
    try:
        transport = await TcpTransport.connect(host, port, connect_timeout=connect_timeout)
    except TransportError:
        return PrinterIdentity()
    try:
        asked: StatusChannel = "star" if channel == "star" else "escpos"
        return await query_channel_identity(transport, asked, reply_timeout)
    except TransportError as exc:
        log.debug("identity query of %s:%s failed: %s", host, port, exc)
        return PrinterIdentity()
    finally:
        await transport.close()


def arp_mac(host: str, table: Path = ARP_TABLE) -> str | None:
    """The MAC address of ``host`` in the kernel's ARP table (Linux), if it is there."""
    try:
        lines = table.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[0] == host:
            return normalize_mac(fields[3])
    return None


class NetworkIdentifier:
    """Identities by address, and the ids they give network candidates."""

    def __init__(self, ask: Asker = ask_network_identity, arp: ArpLookup = arp_mac) -> None:
        self._ask = ask
        self._arp = arp
        self._known: dict[Address, PrinterIdentity] = {}

    def known(self, host: str, port: int) -> PrinterIdentity | None:
        """What the printer at this address said, if it was asked."""
        return self._known.get((host, port))

    def learn(self, host: str, port: int, identity: PrinterIdentity) -> None:
        """Keep what the printer at ``host:port`` said."""
        self._known[(host, port)] = identity

    async def identify(
        self, found: Iterable[PrinterInfo], tracked: Mapping[str, PrinterInfo]
    ) -> list[PrinterInfo]:
        """``found`` with network candidates identified (new addresses asked, in parallel)."""
        found = list(found)
        present = {a for p in found if (a := _address(p)) is not None}
        for address in set(self._known) - present:
            del self._known[address]
        fresh = sorted(present - set(self._known))
        channels = _channels(found)
        answers = await asyncio.gather(
            *(self._ask(host, port, channels.get((host, port))) for host, port in fresh)
        )
        for (host, port), identity in zip(fresh, answers, strict=True):
            self.learn(host, port, identity)
        serials = Counter(s for a in present if (s := self._known[a].serial))
        unique = {serial for serial, count in serials.items() if count == 1}
        macs = self._macs(found)
        return [self._resolve(p, macs, unique, tracked) for p in found]

    def _macs(self, found: list[PrinterInfo]) -> dict[Address, str]:
        """The MAC per address: from any candidate there (mDNS), else the ARP table."""
        macs: dict[Address, str] = {}
        for info in found:
            if (address := _address(info)) and info.mac:
                macs.setdefault(address, info.mac)
        for info in found:
            address = _address(info)
            if address and address not in macs and (mac := self._arp(address[0])) is not None:
                macs[address] = mac
        return macs

    def _resolve(
        self,
        info: PrinterInfo,
        macs: dict[Address, str],
        unique: set[str],
        tracked: Mapping[str, PrinterInfo],
    ) -> PrinterInfo:
        address = _address(info)
        if address is None:
            return info
        identity = self._known.get(address)
        mac = macs.get(address)
        serial = identity.serial if identity and identity.serial in unique else None
        printer_id = network_printer_id(*address, serial=serial, mac=mac)
        if serial is None and mac is None:
            printer_id = _kept_id(address, tracked) or printer_id
        named = info.model_copy(update={"printer_id": printer_id, "mac": mac or info.mac})
        return apply_identity(named, identity)


def _address(info: PrinterInfo) -> Address | None:
    """Where a network candidate is reached (None for other printers and for OS queues,
    whose writes are print jobs: they are never asked, and keep their queue ids)."""
    if info.source is DiscoverySource.QUEUE or info.queue is not None:
        return None
    if info.connection is not Connection.NETWORK or not info.host or not info.port:
        return None
    return info.host, info.port


def _channels(found: list[PrinterInfo]) -> dict[Address, StatusChannel]:
    """The status channel a scan saw at each address (the sweep's probe tells it)."""
    channels: dict[Address, StatusChannel] = {}
    for info in found:
        if (address := _address(info)) and info.status_channel:
            channels.setdefault(address, info.status_channel)
    return channels


def _kept_id(address: Address, tracked: Mapping[str, PrinterInfo]) -> str | None:
    """The id the printer already known at ``address`` has (a serial or MAC id)."""
    by_address = network_printer_id(*address)
    for printer_id, info in tracked.items():
        if (info.host, info.port) == address and printer_id != by_address:
            return printer_id
    return None
