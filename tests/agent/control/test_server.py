"""ControlServer's bounds (connections, idle clients, slow and failing operations), and the
Windows named pipe for real on a Windows runner (.github/workflows/control-api.yml; behind
the fake Win32 pipe API in test_winpipe.py)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.control.client import ControlClient, ControlError, ServiceNotRunning
from agent.control.protocol import ProtocolError
from agent.control.server import AlreadyServing, ControlServer, Handler


async def echo(params: dict[str, Any]) -> Any:
    return {"echo": params}


async def slow(params: dict[str, Any]) -> Any:
    await asyncio.sleep(30)


async def broken(params: dict[str, Any]) -> Any:
    raise KeyError("a bug")


async def refusing(params: dict[str, Any]) -> Any:
    raise ProtocolError("unknown_printer", "no printer 'Bar'")


OPS: dict[str, Handler] = {"hello": echo, "echo": echo, "slow": slow, "broken": broken,
                           "refusing": refusing}  # fmt: skip


PIPE = r"\\.\pipe\chit-agent-test"


@pytest.fixture
async def unix_server() -> AsyncIterator[tuple[ControlServer, str]]:
    if os.name != "posix":
        pytest.skip("Unix sockets")
    path = os.environ["CHIT_AGENT_CONTROL_SOCKET"]
    server = ControlServer(OPS, None, op_timeout=0.3, idle_timeout=0.5, max_connections=2)
    await server.serve_unix(Path(path), str(os.getgid()))
    yield server, path
    await server.close()


@pytest.mark.windows
async def test_a_pipe_needs_the_proactor_loop() -> None:
    if sys.platform == "win32":
        pytest.skip("Windows has it")
    with pytest.raises(RuntimeError, match="pywin32"):
        await ControlServer(OPS, None).serve_pipe(PIPE)
    with pytest.raises(ServiceNotRunning, match="ProactorEventLoop"):
        await ControlClient(PIPE).connect()


@pytest.mark.windows
@pytest.mark.skipif(sys.platform != "win32", reason="a real named pipe needs Windows")
async def test_a_real_named_pipe_on_windows() -> None:
    """pywin32's pipe with its DACL; the runner's user is an elevated administrator."""
    address = rf"\\.\pipe\chit-agent-test-{os.getpid()}"
    server = ControlServer(OPS, None)
    await server.serve_pipe(address, os.environ.get("CHIT_TEST_PIPE_GROUP", "Chit Agent Users"))
    try:
        async with ControlClient(address) as client:
            assert await client.call("echo", {"b": 2}) == {"echo": {"b": 2}}
            with pytest.raises(ControlError) as refused:
                await client.call("refusing")
            assert refused.value.code == "unknown_printer"
        with pytest.raises(AlreadyServing):  # FILE_FLAG_FIRST_PIPE_INSTANCE
            await ControlServer(OPS, None).serve_pipe(address)
    finally:
        await server.close()


async def test_slow_failing_and_refusing_operations_get_codes(
    unix_server: tuple[ControlServer, str],
) -> None:
    _, path = unix_server
    async with ControlClient(path) as client:
        for op, code in [
            ("slow", "timeout"),
            ("broken", "internal"),
            ("refusing", "unknown_printer"),
        ]:
            with pytest.raises(ControlError) as failed:
                await client.call(op)
            assert failed.value.code == code, op
        assert await client.call("echo") == {"echo": {}}


async def test_connections_are_bounded_and_idle_ones_closed(
    unix_server: tuple[ControlServer, str],
) -> None:
    _, path = unix_server
    first = await ControlClient(path).connect()
    second = await ControlClient(path).connect()
    reader, writer = await asyncio.open_unix_connection(path)
    answer = json.loads(await asyncio.wait_for(reader.readline(), 5))
    assert answer["error"]["code"] == "busy"
    writer.close()
    await asyncio.sleep(0.8)  # past the idle timeout: both were closed by the server
    with pytest.raises(ConnectionError):
        await first.call("echo")
    await first.close()
    await second.close()
    async with ControlClient(path) as client:
        assert await client.call("echo") == {"echo": {}}
