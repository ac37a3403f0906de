"""The faces' side of the control API: connect to the core's service, ask, get an answer.

:func:`connect` tells three cases apart, because the faces act differently on each:
no service (nothing listens: :class:`ServiceNotRunning`, run the core in-process instead), a
service this user may not use (:class:`ServiceRefused`: say so, and do not start a second
core), and a service that answers. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from agent.control import is_pipe
from agent.control.protocol import MAX_RESPONSE, ProtocolError, Request, decode_response

CONNECT_TIMEOUT = 2.0
#: A test page or pairing can take a while; the server's own bound is 60 s.
REQUEST_TIMEOUT = 65.0


class ServiceNotRunning(Exception):
    """Nothing answers on the control address."""


class ServiceRefused(Exception):
    """The service runs, but will not serve this user (not in its group)."""


class ControlError(Exception):
    """The service answered a request with an error code."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{message} [{code}]")
        self.code = code
        self.message = message
        self.details = details or {}


async def _open(address: str, pipes: Any = None) -> tuple[asyncio.StreamReader, Any]:
    """A stream pair to a Unix socket, or to a named pipe through ``pipes`` (the
    ProactorEventLoop on Windows: the running loop unless a test gives a stand-in).

    The loop opens the pipe with ``CreateFileW(GENERIC_READ | GENERIC_WRITE, OPEN_EXISTING,
    FILE_FLAG_OVERLAPPED)`` (CPython's ``_overlapped.ConnectPipe``): no more than a standard
    user is granted by the pipe's DACL when in the control group (agent.control.winpipe). A
    user outside it gets ERROR_ACCESS_DENIED, a PermissionError: :class:`ServiceRefused`.
    """
    if not is_pipe(address):
        return await asyncio.open_unix_connection(address, limit=MAX_RESPONSE)
    loop = asyncio.get_running_loop()
    create = getattr(pipes or loop, "create_pipe_connection", None)
    if create is None:
        raise ServiceNotRunning("named pipes need asyncio's ProactorEventLoop (Windows)")
    reader = asyncio.StreamReader(limit=MAX_RESPONSE)
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await create(lambda: protocol, address)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


class ControlClient:
    """One connection to the core; requests are sent one at a time."""

    def __init__(
        self, address: str, *, timeout: float = REQUEST_TIMEOUT, pipes: Any = None
    ) -> None:
        self.address = address
        self.timeout = timeout
        self._pipes = pipes
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def connect(self, timeout: float = CONNECT_TIMEOUT) -> ControlClient:
        """Open the connection and say hello (checks the service will serve us)."""
        try:
            self._reader, self._writer = await asyncio.wait_for(
                _open(self.address, self._pipes), timeout
            )
        except PermissionError as exc:
            raise ServiceRefused(f"not allowed to use {self.address}: {exc}") from None
        except (FileNotFoundError, ConnectionError, TimeoutError, OSError) as exc:
            raise ServiceNotRunning(f"no agent service at {self.address}: {exc}") from None
        try:
            await self.call("hello")
        except ControlError as exc:
            await self.close()
            if exc.code == "forbidden":
                raise ServiceRefused(exc.message) from None
            raise
        except (ConnectionError, TimeoutError) as exc:
            await self.close()
            raise ServiceNotRunning(f"the agent service at {self.address} hung up: {exc}") from None
        return self

    async def call(
        self, op: str, params: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """Run one operation; its result, or ControlError with the service's code."""
        async with self._lock:
            reader, writer = self._reader, self._writer
            if reader is None or writer is None:
                raise ConnectionError("not connected")
            request_id = next(self._ids)
            writer.write(Request(request_id, op, params or {}).encode())
            async with asyncio.timeout(timeout or self.timeout):
                await writer.drain()
                line = await reader.readline()
            if not line:
                raise ConnectionResetError("the agent service closed the connection")
        try:
            response = decode_response(line)
        except ProtocolError as exc:
            raise ControlError("bad_request", f"not an answer: {exc.message}") from None
        # A connection-level error (forbidden, too_large, busy) answers no request: id null.
        if response.id != request_id and (response.ok or response.id is not None):
            raise ControlError("bad_request", f"answer {response.id!r} to request {request_id}")
        if not response.ok:
            code, message = response.error_code or "internal", response.error_message or ""
            raise ControlError(code, message, response.details)
        return response.result

    async def close(self) -> None:
        """Close the connection (bounded)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2.0)

    async def __aenter__(self) -> ControlClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
