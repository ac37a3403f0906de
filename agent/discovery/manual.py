"""Printers entered by hand: ``host``, ``host:port``, ``[v6-address]:port``, each optionally
named: ``Kitchen=192.168.1.50``.

A printer entered by hand is reported whether or not it answers now: the person who typed it
knows it exists; its status says whether it is reachable.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from agent.discovery.network import network_printer
from agent.transports.tcp import DEFAULT_PORT
from shared.printers import DiscoverySource, PrinterInfo

# RFC 1123 host names: labels of letters, digits and hyphens, not starting with a hyphen.
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.?)+$")
_BRACKETED = re.compile(r"^\[(?P<host>[^\]]+)\](?::(?P<port>\d+))?$")


class ManualEntryError(ValueError):
    """A printer address typed by hand does not parse."""

    code = "bad_printer_address"


def _port(text: str, entry: str) -> int:
    """A TCP port number, or ManualEntryError."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ManualEntryError(f"bad port in {entry!r}: expected a number from 1 to 65535")
    return int(text)


def _host(text: str, entry: str) -> str:
    """An IP address or a host name, or ManualEntryError."""
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        pass
    if not _HOSTNAME.match(text):
        raise ManualEntryError(f"bad host in {entry!r}: expected an IP address or a host name")
    return text.rstrip(".").lower()


def parse_address(entry: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``(host, port)`` from ``host[:port]`` or ``[v6]:port``; ManualEntryError when malformed."""
    text = entry.strip()
    if not text:
        raise ManualEntryError("empty printer address")
    if bracketed := _BRACKETED.match(text):
        port = bracketed["port"]
        return _host(bracketed["host"], entry), _port(port, entry) if port else default_port
    if text.count(":") > 1:  # a bare IPv6 address: no port
        return _host(text, entry), default_port
    host, colon, port = text.partition(":")
    return _host(host, entry), _port(port, entry) if colon else default_port


def split_name(entry: str) -> tuple[str | None, str]:
    """``("Kitchen", "10.0.0.5:9100")`` from ``Kitchen=10.0.0.5:9100``; no name without ``=``."""
    name, equals, address = entry.rpartition("=")
    if not equals:
        return None, entry
    if not name.strip():
        raise ManualEntryError(f"empty printer name in {entry!r}: write NAME=HOST[:PORT]")
    return name.strip(), address


def manual_printer(entry: str, *, name: str | None = None) -> PrinterInfo:
    """The printer at a hand-typed address, ``host[:port]`` or ``NAME=host[:port]``."""
    given, address = split_name(entry)
    host, port = parse_address(address)
    return network_printer(host, port, DiscoverySource.MANUAL, name=name or given)


def manual_printers(entries: Iterable[str]) -> list[PrinterInfo]:
    """The printers at hand-typed addresses, without duplicates."""
    found = {p.printer_id: p for p in map(manual_printer, entries)}
    return list(found.values())
