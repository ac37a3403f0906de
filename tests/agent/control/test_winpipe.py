"""The Windows control pipe (agent.control.winpipe) behind the fake Win32 pipe API: the DACL,
the first-instance flag, who is let in, the bounds. The same server runs against real pywin32
on a Windows runner (.github/workflows/control-api.yml)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from agent.control import control_group
from agent.control.client import ControlClient, ControlError, ServiceNotRunning, ServiceRefused
from agent.control.ops import Operations
from agent.control.peers import PipePeer, SidPolicy
from agent.control.server import AlreadyServing, ControlServer, Handler, operator
from agent.control.winpipe import GROUP, PIPE_MODE, PipeLimits, open_mode, sddl
from agent.control.winpipe_api import (
    ADMINISTRATORS_SID,
    ERROR_PIPE_BUSY,
    FILE_FLAG_FIRST_PIPE_INSTANCE,
    FILE_FLAG_OVERLAPPED,
    PIPE_ACCESS_DUPLEX,
    PIPE_REJECT_REMOTE_CLIENTS,
)
from agent.host import AgentHost
from agent.settings import AgentSettings
from agent.simulators.fake_winpipe import FakePipes, FakeUser, FakeWinError

PIPE = r"\\.\pipe\chit-agent-test"
SERVICE = "S-1-5-80-1111-2222-3333-4444-5555"  # NT SERVICE\ChitAgent
GROUP_SID = "S-1-5-21-10-20-30-1009"
TILL = FakeUser("S-1-5-21-10-20-30-1001", frozenset({"S-1-5-4", GROUP_SID}), pid=501)
STRANGER = FakeUser("S-1-5-21-10-20-30-1002", frozenset({"S-1-5-4", "S-1-5-32-545"}), pid=502)
ADMIN = FakeUser("S-1-5-21-10-20-30-500", frozenset({ADMINISTRATORS_SID}), pid=503)


class StubHost:
    """Just enough of an AgentHost for the ``pair`` operation."""

    def require(self) -> Any:
        return SimpleNamespace(settings=AgentSettings(hub_url="https://hub.test"))

    async def pair(self, hub_url: str, code: str) -> Any:
        return SimpleNamespace(agent_id="a1", company_id="c1", branch_id="b1")


async def echo(params: dict[str, Any]) -> Any:
    return {"echo": params, "operator": operator.get()}


def table() -> dict[str, Handler]:
    ops = Operations(cast(AgentHost, StubHost()))
    return {"hello": ops.hello, "echo": echo, "pair": ops.pair}


@pytest.fixture
def pipes() -> FakePipes:
    return FakePipes(SERVICE, {GROUP: GROUP_SID})


@pytest.fixture
async def server(pipes: FakePipes) -> AsyncIterator[ControlServer]:
    served = ControlServer(table(), None, idle_timeout=0.6, max_connections=2)
    await served.serve_pipe(PIPE, GROUP, api=pipes)
    yield served
    await served.close()
    assert not pipes.impersonating, "a thread was left impersonating a client"
    assert PIPE not in pipes.pipes, "every instance is closed"


def test_the_dacl_names_system_administrators_the_service_and_the_group() -> None:
    assert sddl(SERVICE, GROUP_SID) == (
        "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;S-1-5-80-1111-2222-3333-4444-5555)"
        "(A;;GRGW;;;S-1-5-21-10-20-30-1009)"
    )
    # Run as LocalSystem with no group: no duplicate ACE, and no one else.
    assert sddl("S-1-5-18", None) == "D:P(A;;GA;;;SY)(A;;GA;;;BA)"


def test_the_windows_group_is_the_default_only_on_a_pipe() -> None:
    assert control_group("chit-agent", PIPE) == "Chit Agent Users" == GROUP
    assert control_group("chit-agent", "/run/chit-agent/control.sock") == "chit-agent"
    assert control_group("Till Staff", PIPE) == "Till Staff"


def test_the_sid_policy_matches_the_unix_one() -> None:
    policy = SidPolicy(owner_sid=SERVICE, group_sid=GROUP_SID)
    member = PipePeer(1, TILL.sid, frozenset({GROUP_SID}))
    admin = PipePeer(2, ADMIN.sid, frozenset({ADMINISTRATORS_SID}))
    service = PipePeer(3, SERVICE, frozenset())
    stranger = PipePeer(4, STRANGER.sid, frozenset())
    assert [policy.allows(p) for p in (member, admin, service, stranger)] == [1, 1, 1, 0]
    assert [policy.is_operator(p) for p in (member, admin, service)] == [0, 1, 1]
    assert not SidPolicy(SERVICE, None).allows(member)


async def test_every_instance_is_made_at_start_the_first_claiming_the_name(
    pipes: FakePipes, server: ControlServer
) -> None:
    made = [c for c in pipes.created if c.name == PIPE]
    assert len(made) == 3 and {c.max_instances for c in made} == {3}
    first, *rest = made
    assert (
        first.open_mode == PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE
    )
    assert first.open_mode == open_mode(first=True)
    assert all(not c.open_mode & FILE_FLAG_FIRST_PIPE_INSTANCE for c in rest)
    assert all(c.pipe_mode == PIPE_MODE and c.pipe_mode & PIPE_REJECT_REMOTE_CLIENTS for c in made)
    assert {c.sddl for c in made} == {sddl(SERVICE, GROUP_SID)}
    # A member cannot add an instance of its own (to answer other users' trays): the pool is full.
    with pytest.raises(FakeWinError) as squat:
        pipes.create_named_pipe(PIPE, open_mode(False), PIPE_MODE, 3, 4096, "D:P(A;;GA;;;WD)")
    assert squat.value.winerror == ERROR_PIPE_BUSY
    # A second core (or a squatter that got there first) is refused the name.
    with pytest.raises(AlreadyServing):
        await ControlServer(table(), None).serve_pipe(PIPE, GROUP, api=pipes)


async def test_a_member_is_served_end_to_end_but_may_not_move_the_hub(
    pipes: FakePipes, server: ControlServer
) -> None:
    pipes.user = TILL
    async with ControlClient(PIPE, pipes=pipes) as client:
        assert await client.call("echo", {"a": 1}) == {"echo": {"a": 1}, "operator": False}
        with pytest.raises(ControlError) as unknown:
            await client.call("nope")
        assert unknown.value.code == "unknown_op" and "echo" in unknown.value.details["ops"]
        with pytest.raises(ControlError) as moved:
            await client.call("pair", {"code": "ABCD", "hubUrl": "https://evil.test"})
        assert moved.value.code == "forbidden"
        paired = await client.call("pair", {"code": "ABCD"})
        assert paired["hubUrl"] == "https://hub.test"


async def test_an_administrator_and_the_service_are_operators(
    pipes: FakePipes, server: ControlServer
) -> None:
    for user in (ADMIN, FakeUser(SERVICE)):
        pipes.user = user
        async with ControlClient(PIPE, pipes=pipes) as client:
            assert (await client.call("echo"))["operator"] is True
            moved = await client.call("pair", {"code": "ABCD", "hubUrl": "https://other.test"})
            assert moved["hubUrl"] == "https://other.test"


async def test_a_non_member_is_refused_by_the_dacl(pipes: FakePipes, server: ControlServer) -> None:
    pipes.user = STRANGER
    with pytest.raises(ServiceRefused):
        await ControlClient(PIPE, pipes=pipes).connect()


async def test_a_non_member_past_a_loosened_dacl_gets_forbidden(pipes: FakePipes) -> None:
    """The server's own check, behind the DACL (as the Unix peer check is behind the mode)."""
    served = ControlServer(table(), None)
    await served.serve_pipe(PIPE, GROUP, api=pipes)
    pipes.dacls[PIPE] = "D:P(A;;GA;;;WD)"  # Everyone
    try:
        pipes.user = STRANGER
        with pytest.raises(ServiceRefused, match="is not allowed: the agent service serves"):
            await ControlClient(PIPE, pipes=pipes).connect()
        raw = pipes.open_client(PIPE, STRANGER)
        with raw:
            raw.sendall(b'{"v":1,"id":1,"op":"echo"}\n')
            answer = json.loads(recv_line(raw))
        assert answer["id"] is None and answer["error"]["code"] == "forbidden"
        assert STRANGER.sid in answer["error"]["message"]
    finally:
        await served.close()


def recv_line(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes its end within ``seconds`` (answers read and dropped)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:  # closed with bytes it never read
        return True
    except TimeoutError:
        return False
    return False


async def test_oversized_requests_are_answered_and_cut_off(
    pipes: FakePipes, server: ControlServer
) -> None:
    raw = pipes.open_client(PIPE, TILL)
    with raw:
        await asyncio.to_thread(raw.sendall, b'{"v":1,"id":1,"op":"echo"}\n' + b"x" * 70_000)
        answers = await asyncio.to_thread(recv_line, raw)
        answers += await asyncio.to_thread(recv_line, raw)
        codes = [json.loads(line).get("error", {}).get("code") for line in answers.splitlines()]
        assert codes == [None, "too_large"]
        assert await asyncio.to_thread(closed_within, raw, 2.0)


async def test_silent_and_trickling_clients_are_cut_off(
    pipes: FakePipes, server: ControlServer
) -> None:
    silent = pipes.open_client(PIPE, TILL)
    trickler = pipes.open_client(PIPE, TILL)
    with silent, trickler:
        started = time.monotonic()

        def trickle() -> None:
            for byte in b'{"v":1,"id":1,"op":"echo"':
                try:
                    trickler.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.05)

        await asyncio.gather(asyncio.to_thread(trickle),
                             asyncio.to_thread(closed_within, silent, 3.0))  # fmt: skip
        assert await asyncio.to_thread(closed_within, trickler, 3.0)
        assert time.monotonic() - started < 3.0
    # Both instances are free again: a member is served.
    pipes.user = TILL
    async with ControlClient(PIPE, pipes=pipes) as client:
        assert (await client.call("echo"))["operator"] is False


async def test_connections_beyond_the_bound_get_busy(
    pipes: FakePipes, server: ControlServer
) -> None:
    pipes.user = TILL
    first = await ControlClient(PIPE, pipes=pipes).connect()
    second = await ControlClient(PIPE, pipes=pipes).connect()
    try:
        raw = pipes.open_client(PIPE, TILL)  # the spare instance
        with raw:
            answer = json.loads(await asyncio.to_thread(recv_line, raw))
        assert answer["error"]["code"] == "busy"
        assert await first.call("echo") and await second.call("echo")
    finally:
        await first.close()
        await second.close()


async def test_a_client_that_does_not_read_its_answers_is_dropped(pipes: FakePipes) -> None:
    served = ControlServer(table(), None)
    await served.serve_pipe(PIPE, GROUP, api=pipes)
    served._pipes[0].limits = PipeLimits(max_connections=32, write_timeout=0.3)
    raw = pipes.open_client(PIPE, TILL)
    try:
        big = json.dumps({"v": 1, "id": 1, "op": "echo", "params": {"x": "y" * 60_000}})
        raw.settimeout(5)
        for _ in range(40):  # ~2.4 MB of answers the client never reads
            try:
                await asyncio.to_thread(raw.sendall, big.encode() + b"\n")
            except OSError:
                break
        await asyncio.sleep(1.0)
        assert all(p.client is None for p in pipes.pipes[PIPE]), "the reader-less client stays"
    finally:
        raw.close()
        await served.close()


async def test_an_instance_that_cannot_revert_serves_no_one_and_stays_taken(
    pipes: FakePipes,
) -> None:
    served = ControlServer(table(), None, max_connections=1)
    await served.serve_pipe(PIPE, GROUP, api=pipes)
    pipes.fail_revert = True
    try:
        pipes.user = TILL
        with pytest.raises((ConnectionError, ServiceNotRunning)):
            await ControlClient(PIPE, pipes=pipes).connect()
        assert len(pipes.pipes[PIPE]) == 2, "the stuck instance still fills its slot"
        pipes.impersonating.clear()
        pipes.fail_revert = False
        async with ControlClient(PIPE, pipes=pipes) as client:  # the other instance
            assert (await client.call("echo"))["operator"] is False
    finally:
        await served.close()


async def test_a_win32_failure_resolving_the_group_keeps_the_core_running(
    pipes: FakePipes,
) -> None:
    def broken(account: str) -> str:
        raise FakeWinError(1789, "LookupAccountName", "The trust relationship failed")

    pipes.lookup_sid = broken  # type: ignore[method-assign]
    with pytest.raises(OSError, match="control group"):
        await ControlServer(table(), None).serve_pipe(PIPE, GROUP, api=pipes)

    def unknown(account: str) -> str:
        raise FakeWinError(1332, "LookupAccountName", "No mapping between names and SIDs")

    pipes.lookup_sid = unknown  # type: ignore[method-assign]
    served = ControlServer(table(), None)
    await served.serve_pipe(PIPE, GROUP, api=pipes)  # no such group: administrators only
    try:
        assert pipes.created[-1].sddl == sddl(SERVICE, None)
        pipes.user = TILL
        with pytest.raises(ServiceRefused):
            await ControlClient(PIPE, pipes=pipes).connect()
    finally:
        await served.close()
