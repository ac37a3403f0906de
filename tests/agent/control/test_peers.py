"""Peer credentials from the kernel, and who the policy lets in."""

from __future__ import annotations

import os
import socket
import struct
import sys
from pathlib import Path

import pytest

from agent.control.peers import (
    XUCRED,
    AccessPolicy,
    Peer,
    group_id,
    parse_gid_array,
    parse_ucred,
    parse_xucred,
    proc_groups,
    read_peer,
)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") and sys.platform != "darwin",
    reason="SO_PEERCRED (Linux) and LOCAL_PEERCRED (macOS)",
)
def test_the_kernel_names_the_peer_of_a_real_socket() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        peer = read_peer(left)
    assert peer is not None and peer.uid == os.getuid()
    assert os.getegid() in peer.gids
    if sys.platform.startswith("linux"):
        assert peer.pid == os.getpid() and set(os.getgroups()) <= peer.gids


def test_parse_ucred_and_gid_arrays() -> None:
    assert parse_ucred(struct.pack("=iII", 42, 1000, 1001)) == (42, 1000, 1001)
    assert parse_gid_array(struct.pack("=3I", 4, 24, 27) + b"\x00") == frozenset({4, 24, 27})


def test_parse_xucred_keeps_only_the_counted_groups() -> None:
    data = XUCRED.pack(0, 501, 3, 20, 12, 61, *([99] * 13))
    assert parse_xucred(data) == Peer(uid=501, gids=frozenset({20, 12, 61}))


def test_proc_groups_reads_the_status_file(tmp_path: Path) -> None:
    (tmp_path / "77").mkdir()
    (tmp_path / "77" / "status").write_text("Name:\tx\nGroups:\t4 24 998 \nNSpgid:\t1\n")
    assert proc_groups(77, tmp_path) == frozenset({4, 24, 998})
    assert proc_groups(78, tmp_path) == frozenset()


def test_policy_lets_in_root_the_owner_and_the_group_only() -> None:
    policy = AccessPolicy(owner_uid=990, group_gid=991)
    assert policy.allows(Peer(uid=0, gids=frozenset({0})))
    assert policy.allows(Peer(uid=990, gids=frozenset({990})))
    assert policy.allows(Peer(uid=1000, gids=frozenset({1000, 991})))
    assert not policy.allows(Peer(uid=1000, gids=frozenset({1000, 24})))
    assert not AccessPolicy(owner_uid=990, group_gid=None).allows(Peer(1000, frozenset({991})))


def test_group_ids_by_name_or_number() -> None:
    assert group_id("4242") == 4242
    assert group_id("no-such-group-chit") is None
    if sys.platform != "win32":
        import grp

        name = grp.getgrgid(os.getgid()).gr_name
        assert group_id(name) == os.getgid()
