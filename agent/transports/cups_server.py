"""Which CUPS server to talk to, found the way CUPS clients (libcups' ``cupsServer()``) do.

In order, the first that says something wins:

1. the ``CUPS_SERVER`` environment variable;
2. ``ServerName`` in the user's ``~/.cups/client.conf``;
3. ``ServerName`` in the system's ``client.conf`` (``$CUPS_SERVERROOT/client.conf``, by default
   ``/etc/cups/client.conf``);
4. the local domain socket, when it exists (``/run/cups/cups.sock`` on Debian,
   ``/var/run/cups/cups.sock`` elsewhere, ``/private/var/run/cupsd`` on macOS);
5. ``localhost``.

A server is written ``host``, ``host:port``, ``[v6-address]:port`` or ``/path/to/socket``
(a ``/version=1.1`` suffix, which libcups accepts, is ignored). Without a port it is
``$IPP_PORT`` or 631. Only the first four are *configured*: when nothing is configured and
nothing listens on localhost, this machine has no CUPS, which is not an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 631
DOMAIN_SOCKETS = ("/run/cups/cups.sock", "/var/run/cups/cups.sock", "/private/var/run/cupsd")
_BRACKETED = re.compile(r"^\[(?P<host>[^\]]+)\](?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class CupsServer:
    """Where a CUPS scheduler listens: a host and port, or a domain socket path."""

    host: str
    port: int = DEFAULT_PORT
    #: Whether the environment or a client.conf named it (else it is the default guess).
    configured: bool = True

    @property
    def socket_path(self) -> str | None:
        """The domain socket's path, or None for a TCP server."""
        return self.host if self.host.startswith("/") else None

    @property
    def http_host(self) -> str:
        """The host for URLs and the Host header (``localhost`` over a domain socket)."""
        if self.socket_path is not None:
            return "localhost"
        return f"[{self.host}]" if ":" in self.host else self.host

    def describe(self) -> str:
        """``/run/cups/cups.sock`` or ``host:631``, for messages."""
        return self.socket_path or f"{self.http_host}:{self.port}"


def parse_server(
    text: str, default_port: int = DEFAULT_PORT, *, configured: bool = True
) -> CupsServer:
    """A server from ``host[:port]``, ``[v6]:port`` or a socket path; ValueError when empty."""
    value = text.strip().split("/version=", 1)[0].strip()
    if not value:
        raise ValueError("empty CUPS server name")
    if value.startswith("/"):
        return CupsServer(value, default_port, configured)
    if bracketed := _BRACKETED.match(value):
        port = bracketed["port"]
        return CupsServer(bracketed["host"], int(port) if port else default_port, configured)
    host, colon, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if colon and port.isdigit():
        return CupsServer(host, int(port), configured)
    return CupsServer(value, default_port, configured)


def server_name_in(path: Path) -> str | None:
    """The ``ServerName`` a client.conf sets, or None (missing or unreadable file)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        words = line.strip().split(None, 1)
        if len(words) == 2 and words[0].lower() == "servername":
            return words[1].strip()
    return None


def _port(env: Mapping[str, str]) -> int:
    """``$IPP_PORT`` when it is a port number, else 631."""
    value = env.get("IPP_PORT", "")
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else DEFAULT_PORT


def find_server(
    environ: Mapping[str, str] | None = None,
    *,
    home: Path | None = None,
    exists: Callable[[str], bool] = os.path.exists,
) -> CupsServer:
    """The CUPS server this process should use, per the rules in the module docstring."""
    env = os.environ if environ is None else environ
    port = _port(env)
    if named := env.get("CUPS_SERVER", "").strip():
        return parse_server(named, port)
    user_home = home if home is not None else Path(env.get("HOME") or Path.home())
    server_root = Path(env.get("CUPS_SERVERROOT") or "/etc/cups")
    for conf in (user_home / ".cups" / "client.conf", server_root / "client.conf"):
        if conf_name := server_name_in(conf):
            return parse_server(conf_name, port)
    for socket_path in DOMAIN_SOCKETS:
        if exists(socket_path):
            return CupsServer(socket_path, port, configured=True)
    return CupsServer("localhost", port, configured=False)
