"""Network printer candidates: their stable id, their PrinterInfo, and the ESC/POS probe.

A network printer's id is who it is, where that is known: ``net:sn:{serial}`` from the serial
number it reports to ``GS I 68``, else ``net:mac:{mac}`` from its MAC address (mDNS TXT, the
ARP table), else ``net:{host}:{port}``, where the agent reaches it. With a serial or MAC the
same printer found at a new address (DHCP) keeps its id, its history and its queued jobs; the
address is an attribute. The identity comes from agent.discovery.identify, which asks each new
address once; the candidates built here carry only what their source knew.
"""

from __future__ import annotations

import ipaddress
import logging
import re

from agent.transports.channels import probe_star, query_channel
from agent.transports.errors import TransportError
from agent.transports.status import DEFAULT_REPLY_TIMEOUT, probe_escpos
from agent.transports.tcp import DEFAULT_PORT, TcpTransport
from shared.printers import (
    Connection,
    DiscoverySource,
    PrinterInfo,
    PrinterStatus,
    StatusChannel,
)

log = logging.getLogger(__name__)

DEFAULT_PROBE_CONNECT_TIMEOUT = 0.5


def normalize_host(host: str) -> str:
    """Lower-case names, canonical IP text, no IPv6 zone: one spelling per host."""
    bare = host.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare).compressed
    except ValueError:
        return bare.rstrip(".").lower()


_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_MAC = re.compile(r"^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$", re.IGNORECASE)


def normalize_mac(mac: str | None) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` for any common spelling of a MAC address; None if it is not one."""
    text = (mac or "").strip()
    if not _MAC.match(text) or set(text.replace(":", "").replace("-", "")) == {"0"}:
        return None
    digits = text.replace(":", "").replace("-", "").lower()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def network_printer_id(
    host: str, port: int = DEFAULT_PORT, *, serial: str | None = None, mac: str | None = None
) -> str:
    """``net:sn:{serial}``, else ``net:mac:{mac}``, else ``net:{host}:{port}``."""
    unit = _ID_UNSAFE.sub("_", (serial or "").strip())[:64]
    if unit.strip("_"):
        return f"net:sn:{unit}"
    if (normal := normalize_mac(mac)) is not None:
        return f"net:mac:{normal.replace(':', '')}"
    return f"net:{normalize_host(host)}:{port}"


def where(host: str, port: int = DEFAULT_PORT) -> str:
    """``host``, or ``host:port`` off the usual raw port."""
    return host if port == DEFAULT_PORT else f"{host}:{port}"


def fallback_name(host: str, port: int = DEFAULT_PORT) -> str:
    """The name of a network printer nothing at all is known of: where it is."""
    return f"Network printer {where(host, port)}"


def model_name(model: str, host: str, port: int = DEFAULT_PORT) -> str:
    """The default name of a network printer that told its model: ``TM-T20III at 10.0.0.5``."""
    return f"{model} at {where(host, port)}"[:200]


def has_fallback_name(info: PrinterInfo) -> bool:
    """Whether ``info`` is named only after its address or model (a real name replaces it)."""
    if info.host is None or info.port is None:
        return False
    made_up = {fallback_name(info.host, info.port)[:200]}
    if info.model:
        made_up.add(model_name(info.model, info.host, info.port))
    return info.name in made_up


def network_printer(
    host: str,
    port: int,
    source: DiscoverySource,
    *,
    name: str | None = None,
    model: str | None = None,
    manufacturer: str | None = None,
    status: PrinterStatus | None = None,
    status_channel: StatusChannel | None = None,
    mac: str | None = None,
) -> PrinterInfo:
    """A network printer candidate."""
    host, mac = normalize_host(host), normalize_mac(mac)
    default = model_name(model, host, port) if model else fallback_name(host, port)
    return PrinterInfo(
        # The address id; agent.discovery.identify gives every candidate at one address the
        # same serial or MAC id, whichever source found it.
        printer_id=network_printer_id(host, port),
        name=(name or default)[:200],
        mac=mac,
        connection=Connection.NETWORK,
        source=source,
        host=host,
        port=port,
        model=model[:200] if model else None,
        manufacturer=manufacturer[:200] if manufacturer else None,
        status=status,
        status_channel=status_channel,
    )


async def probe_network_printer(
    host: str,
    port: int = DEFAULT_PORT,
    *,
    connect_timeout: float = DEFAULT_PROBE_CONNECT_TIMEOUT,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
) -> PrinterStatus | None:
    """The printer's status if ``host:port`` speaks ESC/POS or Star, else None (never raises)."""
    found = await probe_network_channel(
        host, port, connect_timeout=connect_timeout, reply_timeout=reply_timeout
    )
    return found[0] if found is not None else None


async def probe_network_channel(
    host: str,
    port: int = DEFAULT_PORT,
    *,
    connect_timeout: float = DEFAULT_PROBE_CONNECT_TIMEOUT,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
) -> tuple[PrinterStatus, StatusChannel] | None:
    """The status and status channel of a printer at ``host:port``: ``escpos`` when it answers
    ``DLE EOT 1``, ``star`` when it answers ``ESC ACK SOH`` with an ASB; else None."""
    try:
        transport = await TcpTransport.connect(host, port, connect_timeout=connect_timeout)
    except TransportError:
        return None
    try:
        channel: StatusChannel = "escpos"
        if await probe_escpos(transport, reply_timeout) is None:
            if await probe_star(transport, reply_timeout) is None:
                return None
            channel = "star"
        return await query_channel(transport, channel, reply_timeout), channel
    except TransportError as exc:
        log.debug("probe of %s:%s failed: %s", host, port, exc)
        return None
    finally:
        await transport.close()
