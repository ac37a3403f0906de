"""Raw TCP to a network printer (port 9100, "JetDirect"/AppSocket), over asyncio streams."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket

from agent.transports.base import chunks, clamp_timeout
from agent.transports.errors import (
    PrinterNotFound,
    TransportClosed,
    TransportError,
    TransportTimeout,
)

DEFAULT_PORT = 9100
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_WRITE_TIMEOUT = 10.0
# Bytes handed to the socket before waiting for it to drain: progress is checked per chunk.
WRITE_CHUNK = 16 * 1024
_CLOSE_TIMEOUT = 1.0
log = logging.getLogger(__name__)
# Errors that mean "nothing answers at that address".
_NOT_FOUND_ERRNOS = {
    errno.ECONNREFUSED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EADDRNOTAVAIL,
    errno.EHOSTDOWN,
}


def _reason(exc: OSError) -> str:
    """An OS error in words, without Python's rendering of it."""
    return os.strerror(exc.errno).lower() if exc.errno else type(exc).__name__


def _connect_error(exc: OSError, where: str) -> TransportError:
    """Translate a failed connect into our errors: a sentence for people, details in the log."""
    log.info("connecting to %s failed: %r", where, exc)
    if isinstance(exc, socket.gaierror):
        return PrinterNotFound(
            f"The printer address {where} is not known on this network. "
            "Check the address in the agent's settings."
        )
    if exc.errno in _NOT_FOUND_ERRNOS:
        return PrinterNotFound(
            f"No printer answers at {where}. Check that it is switched on and connected to "
            "the network, and that the address is right."
        )
    return TransportError(
        f"Cannot connect to the printer at {where} ({_reason(exc)}). Check its network connection.",
        code="io_error",
    )


def _closed(where: str, exc: OSError | None = None) -> TransportClosed:
    """The printer dropped the link (details in the log)."""
    if exc is not None:
        log.info("the link to %s broke: %r", where, exc)
    return TransportClosed(
        f"The printer at {where} closed the connection. Check that it is still switched on."
    )


class TcpTransport:
    """A connected raw TCP link to one printer."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host: str,
        port: int,
        *,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.host = host
        self.port = port
        self.write_timeout = write_timeout
        self._closed = False

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    ) -> TcpTransport:
        """Connect to ``host:port`` within ``connect_timeout`` seconds."""
        where = f"{host}:{port}"
        try:
            async with asyncio.timeout(clamp_timeout(connect_timeout)):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            raise TransportTimeout(
                f"No answer from the printer at {where} within {connect_timeout:g} s. "
                "Check that it is switched on and on this network.",
                code="connect_timeout",
            ) from None
        except OSError as exc:
            raise _connect_error(exc, where) from exc
        return cls(reader, writer, host, port, write_timeout=write_timeout)

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        """Send ``data``; each chunk must drain within the timeout."""
        limit = clamp_timeout(self.write_timeout if timeout is None else timeout)
        for chunk in chunks(data, WRITE_CHUNK):
            self._check_open()
            try:
                self._writer.write(chunk)
                async with asyncio.timeout(limit):
                    await self._writer.drain()
            except TimeoutError:
                message = (
                    f"The printer at {self.where} stopped taking data for {limit:g} s. "
                    "Check it for paper, an open cover or an error light."
                )
                raise TransportTimeout(message, code="write_timeout") from None
            except OSError as exc:
                raise _closed(self.where, exc) from exc

    async def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes, ``b""`` on timeout; raises TransportClosed at end of stream."""
        self._check_open()
        try:
            async with asyncio.timeout(clamp_timeout(timeout)):
                data = await self._reader.read(size)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise _closed(self.where, exc) from exc
        if not data:
            raise _closed(self.where)
        return data

    async def read_buffered(self, size: int) -> bytes:
        """Bytes already received, without waiting for more (``b""`` when none are).

        Draining the input before a status round used to wait 5 ms for bytes that normally
        never come, twice per printer test. ``reader.read`` returns at once when its buffer
        holds data; otherwise the zero timeout cancels it on the next turn of the loop.
        """
        self._check_open()
        try:
            async with asyncio.timeout(0):
                data = await self._reader.read(size)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise _closed(self.where, exc) from exc
        if not data:
            raise _closed(self.where)
        return data

    async def close(self) -> None:
        """Close the socket, waiting at most a second for the peer."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await self._writer.wait_closed()

    @property
    def where(self) -> str:
        """``host:port``, as people write a printer's address."""
        return f"{self.host}:{self.port}"

    def describe(self) -> str:
        """``tcp://host:port``."""
        return f"tcp://{self.host}:{self.port}"

    def _check_open(self) -> None:
        """Refuse I/O on a closed transport."""
        if self._closed or self._writer.is_closing():
            raise TransportClosed(f"{self.describe()} is closed")
