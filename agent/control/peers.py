"""Who is on the other end of the control socket, and whether they may use it.

Two locks, one behind the other. The socket file is mode 0660, owned by the service's user
and the control group (``chit-agent`` by default), so the kernel lets only that user, the
group's members and root connect. Then the server asks the kernel who connected and checks
again, so a socket file whose mode was loosened (or a directory that was) still lets no one
else in:

* Linux: ``SO_PEERCRED`` gives the peer's pid, uid and primary gid; ``SO_PEERGROUPS``
  (Linux 4.13) its supplementary groups, with ``/proc/<pid>/status`` as the fallback.
* macOS: ``LOCAL_PEERCRED`` gives a ``struct xucred`` (uid and up to 16 groups).
* Windows: the named pipe is created with an explicit DACL (:func:`agent.control.winpipe.sddl`:
  LocalSystem, Administrators and the service's own account full control, the local group
  ``Chit Agent Users`` read/write, nobody else), so Windows lets only them open it. Then the
  server impersonates the client after its first request line and reads its token: the
  user's SID and whether SYSTEM, Administrators (an elevated token only: UAC filters it out
  of a standard one) or the group are enabled in it, checked by :class:`SidPolicy`.

Both platforms apply one rule: an operator (root, LocalSystem, an elevated administrator, or
the service's own account) may do everything, a member of the control group everything but
move the service to another hub, anyone else nothing (``forbidden``).

Reading the credentials is the one seam tests replace (``ControlServer(peer=...)`` here,
``agent.control.winpipe_api.PipeApi`` for the pipe).
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

from agent.control.winpipe_api import ADMINISTRATORS_SID, SYSTEM_SID

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


@dataclass(frozen=True)
class PipePeer:
    """A named pipe's client, from its impersonation token: its user, and which of the SIDs
    the server asked about are enabled in the token."""

    pid: int
    user_sid: str
    member_of: frozenset[str]


@dataclass(frozen=True)
class SidPolicy:
    """:class:`AccessPolicy` for Windows: operators are LocalSystem, Administrators and the
    service's own account; ``group_sid`` (the control group; None when it does not exist)
    may use the API too."""

    owner_sid: str
    group_sid: str | None
    operator_sids: frozenset[str] = frozenset({SYSTEM_SID, ADMINISTRATORS_SID})

    def asked(self) -> tuple[str, ...]:
        """The SIDs whose membership the server checks in a client's token."""
        sids = [*sorted(self.operator_sids), self.owner_sid]
        if self.group_sid is not None:
            sids.append(self.group_sid)
        return tuple(dict.fromkeys(sids))

    def is_operator(self, peer: PipePeer) -> bool:
        """An administrator, LocalSystem or the service's account: may also move the hub."""
        if peer.user_sid == self.owner_sid or peer.user_sid in self.operator_sids:
            return True
        return bool(peer.member_of & (self.operator_sids | {self.owner_sid}))

    def allows(self, peer: PipePeer) -> bool:
        """Whether ``peer`` may use the control API."""
        if self.is_operator(peer):
            return True
        return self.group_sid is not None and self.group_sid in peer.member_of
