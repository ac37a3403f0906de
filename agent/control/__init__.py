"""The agent core's local control API: how the tray and the CLI drive a core run as a service.

``protocol`` is the wire format (no I/O), ``peers`` who may connect, ``server`` and ``ops``
the core's side, ``client`` the faces' side. docs/control-api.md describes the protocol.
"""

from __future__ import annotations

import os
import sys

from agent.settings import AgentSettings

#: Where the system service listens on Linux and macOS (systemd's RuntimeDirectory=chit-agent).
UNIX_DEFAULT = "/run/chit-agent/control.sock"
#: The named pipe on Windows.
PIPE_DEFAULT = r"\\.\pipe\chit-agent"
PIPE_PREFIX = "\\\\.\\pipe\\"
#: The control group's default name: agent.json's ``control_group`` on Linux and macOS, and
#: on Windows the local group the installer creates (a Windows name may hold spaces).
UNIX_GROUP = "chit-agent"
WINDOWS_GROUP = "Chit Agent Users"


def default_address(platform: str | None = None) -> str:
    """The platform's control address of the system service."""
    platform = platform or sys.platform
    return PIPE_DEFAULT if platform.startswith("win") else UNIX_DEFAULT


def address(settings: AgentSettings) -> str:
    """The control address these settings name (CHIT_AGENT_CONTROL_SOCKET), else the default."""
    return (
        settings.control_socket
        or os.environ.get("CHIT_AGENT_CONTROL_SOCKET", "")
        or default_address()
    )


def is_pipe(address: str) -> bool:
    """Whether an address is a Windows named pipe (``\\\\.\\pipe\\name``)."""
    return address.startswith(PIPE_PREFIX)


def control_group(group: str, where: str) -> str:
    """The control group for an address: the Windows group when a pipe keeps the default."""
    return WINDOWS_GROUP if is_pipe(where) and group == UNIX_GROUP else group
