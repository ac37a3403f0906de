"""Subnet sweep: try the raw printing port on every host of the configured networks.

Port 9100 is also used by laser printers and other software, so an open port is not enough:
a host counts only when it answers ``DLE EOT 1`` with exactly one valid status byte (or, a Star
printer in Star mode, ``ESC ACK SOH`` with exactly one automatic status packet), without
having spoken first. Each probe is bounded (a short connect timeout, a short reply timeout)
and at most ``concurrency`` run at once, so a /24 takes a second or two and a /22 about ten.
Larger networks are refused: a sweep is for the shop's LAN, not for the internet.

Caveat: the probe sends a few bytes (``10 04 01``, then ``1b 06 01``) to whatever listens;
PCL/PostScript printers ignore them, but sweep only networks you know.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable

from agent.discovery.network import (
    DEFAULT_PROBE_CONNECT_TIMEOUT,
    network_printer,
    probe_network_channel,
)
from agent.transports.status import DEFAULT_REPLY_TIMEOUT
from agent.transports.tcp import DEFAULT_PORT
from shared.printers import DiscoverySource, PrinterInfo

#: The largest network swept: a /22.
MAX_SWEEP_ADDRESSES = 1024
DEFAULT_CONCURRENCY = 64
DEFAULT_SWEEP_CONNECT_TIMEOUT = 0.4

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class SweepRefused(ValueError):
    """The sweep request is malformed or too large."""

    code = "sweep_refused"


def parse_network(network: str | IPNetwork) -> IPNetwork:
    """``"192.168.1.0/24"`` (host bits allowed) as a network, or SweepRefused."""
    try:
        parsed = ipaddress.ip_network(network, strict=False)
    except ValueError as exc:
        raise SweepRefused(f"not a network: {network!r} (expected e.g. 192.168.1.0/24)") from exc
    if parsed.num_addresses > MAX_SWEEP_ADDRESSES:
        raise SweepRefused(
            f"refusing to sweep {parsed}: {parsed.num_addresses} addresses, "
            f"the limit is {MAX_SWEEP_ADDRESSES} (a /22); list smaller networks"
        )
    return parsed


def sweep_hosts(networks: Iterable[str | IPNetwork]) -> list[IPAddress]:
    """The distinct host addresses of ``networks``, in order; SweepRefused when too many."""
    hosts: dict[IPAddress, None] = {}
    for network in networks:
        hosts.update(dict.fromkeys(parse_network(network).hosts()))
    if len(hosts) > MAX_SWEEP_ADDRESSES:
        raise SweepRefused(
            f"refusing to sweep {len(hosts)} hosts at once (limit {MAX_SWEEP_ADDRESSES})"
        )
    return list(hosts)


async def _probe(
    host: IPAddress,
    port: int,
    gate: asyncio.Semaphore,
    connect_timeout: float,
    reply_timeout: float,
) -> PrinterInfo | None:
    """One host: a candidate when it answers ESC/POS or Star status."""
    async with gate:
        found = await probe_network_channel(
            str(host), port, connect_timeout=connect_timeout, reply_timeout=reply_timeout
        )
    if found is None:
        return None
    status, channel = found
    return network_printer(
        str(host), port, DiscoverySource.SWEEP, status=status, status_channel=channel
    )


async def sweep(
    networks: Iterable[str | IPNetwork],
    *,
    port: int = DEFAULT_PORT,
    concurrency: int = DEFAULT_CONCURRENCY,
    connect_timeout: float = DEFAULT_SWEEP_CONNECT_TIMEOUT,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
) -> list[PrinterInfo]:
    """Every host of ``networks`` that answers ESC/POS (or Star) status on ``port``."""
    hosts = sweep_hosts(networks)
    gate = asyncio.Semaphore(max(1, concurrency))
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(_probe(host, port, gate, connect_timeout, reply_timeout))
            for host in hosts
        ]
    return [info for task in tasks if (info := task.result()) is not None]


__all__ = [
    "DEFAULT_PROBE_CONNECT_TIMEOUT",
    "MAX_SWEEP_ADDRESSES",
    "SweepRefused",
    "parse_network",
    "sweep",
    "sweep_hosts",
]
