"""Network printer candidates: their stable id, their PrinterInfo, and the ESC/POS probe.

A network printer's id is ``net:{host}:{port}``: where the agent reaches it. Model and serial
reported by mDNS go into the PrinterInfo, not into the id, so the same printer found by mDNS,
by a sweep and by hand is one printer. The price: a printer that changes its address (DHCP)
becomes a new printer, and the old one is removed after three missed scans. Give receipt
printers fixed addresses (the usual advice anyway).
"""

from __future__ import annotations

import ipaddress
import logging

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


def network_printer_id(host: str, port: int = DEFAULT_PORT) -> str:
    """``net:{host}:{port}``, the same for every way the printer is found."""
    return f"net:{normalize_host(host)}:{port}"


def fallback_name(host: str, port: int = DEFAULT_PORT) -> str:
    """The name of a network printer nothing better is known of: where it is."""
    where = host if port == DEFAULT_PORT else f"{host}:{port}"
    return f"Network printer {where}"


def has_fallback_name(info: PrinterInfo) -> bool:
    """Whether ``info`` is named only after its address (any real name should replace it)."""
    if info.host is None or info.port is None:
        return False
    return info.name == fallback_name(info.host, info.port)[:200]


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
) -> PrinterInfo:
    """A network printer candidate."""
    host = normalize_host(host)
    return PrinterInfo(
        printer_id=network_printer_id(host, port),
        name=(name or model or fallback_name(host, port))[:200],
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
