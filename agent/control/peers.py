"""Who is on the other end of the control socket, and whether they may use it.

Two locks, one behind the other. The socket file is mode 0660, owned by the service's user
and the control group (``chit-agent`` by default), so the kernel lets only that user, the
group's members and root connect. Then the server asks the kernel who connected and checks
again, so a socket file whose mode was loosened (or a directory that was) still lets no one
else in:

* Linux: ``SO_PEERCRED`` gives the peer's pid, uid and primary gid; ``SO_PEERGROUPS``
  (Linux 4.13) its supplementary groups, with ``/proc/<pid>/status`` as the fallback.
* macOS: ``LOCAL_PEERCRED`` gives a ``struct xucred`` (uid and up to 16 groups).
* Windows: the named pipe is created by asyncio with the default security descriptor
  (full control for LocalSystem, Administrators and the creator owner, read only for
  Everyone), so only the service's account and administrators can write a request; the
  server does not check groups there (see docs/control-api.md).

Reading the credentials is the one seam tests replace (``ControlServer(peer=...)``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Linux: <asm-generic/socket.h>; Python's socket module does not export it.
SO_PEERGROUPS = 59
#: macOS: <sys/un.h> SOL_LOCAL and LOCAL_PEERCRED, <sys/ucred.h> struct xucred.
SOL_LOCAL = 0
LOCAL_PEERCRED = 1
XUCRED = struct.Struct("=IIh2x16I")
UCRED = struct.Struct("=iII")


@dataclass(frozen=True)
class Peer:
    """A connected local process: its user and every group it is in."""

    uid: int
    gids: frozenset[int]
    pid: int | None = None


PeerReader = Callable[[Any], Peer | None]


def parse_ucred(data: bytes) -> tuple[int, int, int]:
    """Linux ``struct ucred``: (pid, uid, gid)."""
    pid, uid, gid = UCRED.unpack(data[: UCRED.size])
    return pid, uid, gid


def parse_xucred(data: bytes) -> Peer:
    """macOS ``struct xucred``: uid and groups (the first is the effective gid)."""
    _version, uid, count, *groups = XUCRED.unpack(data[: XUCRED.size])
    return Peer(uid=uid, gids=frozenset(groups[: max(0, min(count, 16))]))


def parse_gid_array(data: bytes) -> frozenset[int]:
    """An array of native ``gid_t`` (SO_PEERGROUPS)."""
    count = len(data) // 4
    return frozenset(struct.unpack(f"={count}I", data[: count * 4]))


def proc_groups(pid: int, proc: Path = Path("/proc")) -> frozenset[int]:
    """The supplementary groups /proc lists for a process (empty when it cannot be read)."""
    try:
        lines = (proc / str(pid) / "status").read_text().splitlines()
    except OSError:
        return frozenset()
    for line in lines:
        if line.startswith("Groups:"):
            return frozenset(int(g) for g in line.split()[1:])
    return frozenset()


def _linux_peer(sock: Any) -> Peer:
    pid, uid, gid = parse_ucred(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size))
    try:
        groups = parse_gid_array(sock.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, 4 * 256))
    except OSError:
        groups = proc_groups(pid)
    return Peer(uid=uid, gids=frozenset({gid, *groups}), pid=pid)


def read_peer(sock: Any) -> Peer | None:
    """The kernel's word on who connected to a Unix socket (None where it cannot say)."""
    if sock is None:
        return None
    if sys.platform.startswith("linux"):
        return _linux_peer(sock)
    if sys.platform == "darwin":
        return parse_xucred(sock.getsockopt(SOL_LOCAL, LOCAL_PEERCRED, XUCRED.size))
    return None


def group_id(name: str) -> int | None:
    """The gid of a group name (or a number given as text); None when there is no such group."""
    if name.isdigit():
        return int(name)
    try:
        import grp
    except ImportError:  # Windows
        return None
    with contextlib.suppress(KeyError):
        return grp.getgrnam(name).gr_gid
    return None


@dataclass(frozen=True)
class AccessPolicy:
    """Root, the service's own user, and members of the control group may connect."""

    owner_uid: int
    group_gid: int | None

    @classmethod
    def for_group(cls, group: str) -> AccessPolicy:
        """The policy of this process with the named group (which may not exist)."""
        owner = os.getuid() if hasattr(os, "getuid") else -1
        return cls(owner_uid=owner, group_gid=group_id(group))

    def is_operator(self, peer: Peer) -> bool:
        """Root or the service's own user: who may also move the service to another hub."""
        return peer.uid in (0, self.owner_uid)

    def allows(self, peer: Peer) -> bool:
        """Whether ``peer`` may use the control API."""
        if peer.uid in (0, self.owner_uid):
            return True
        return self.group_gid is not None and self.group_gid in peer.gids
