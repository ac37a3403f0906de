"""A simulated network ESC/POS printer: an asyncio TCP server in front of a PrinterBrain.

It listens on ``127.0.0.1`` and an ephemeral port by default (``port`` tells which), prints
what it receives and answers ``DLE EOT 1..4`` like a real printer. Powered off, it answers
nothing: open connections are dropped, new ones are closed as soon as they are accepted
(the agent sees the link close and reports the printer unknown). It answers ``GS I`` as a
TM-T20III with its own serial number unless given another ``identity`` (None: a printer that
ignores ``GS I``), so its id is serial-based, as discovery makes it. With
``answer_status=False`` it plays some other service on port 9100: it takes bytes and never
answers, which a sweep must reject. With ``mode="star"`` it is a Star printer in Star mode:
it answers Star's ``ESC ACK SOH`` (ASB) and ``ENQ``, never ``DLE EOT`` (agent.simulators.brain);
``mode="star_graphic"`` makes it one in Star Graphic mode (a TSP143IIILAN: raster only).
Star modes answer ``ESC # * LF NUL`` with a per-model version (``TSP654 Ver2.1``,
``TSP143IIIL Ver1.2``) unless given another ``star_version`` (None: a Star printer that does
not answer it).
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Literal

from agent.discovery.network import network_printer_id
from agent.simulators.brain import PrinterBrain, SimIdentity, SimMode, SimState
from shared.printers import Connection, DiscoverySource, PrinterInfo

_READ_SIZE = 4096
_DRAIN_TIMEOUT = 5.0
_CLOSE_TIMEOUT = 1.0


class SimulatedNetworkPrinter:
    """A raw-TCP (port 9100 style) printer on loopback, driven by a PrinterBrain."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "Chit Simulated Printer",
        state: SimState = SimState.OK,
        answer_status: bool = True,
        identity: SimIdentity | Literal["default"] | None = "default",
        brain: PrinterBrain | None = None,
        mode: SimMode = "escpos",
        star_version: str | Literal["default"] | None = "default",
    ) -> None:
        self.host = host
        self.name = name
        if identity == "default":
            identity = SimIdentity() if answer_status and mode == "escpos" else None
        self.brain = brain or PrinterBrain(
            state,
            answer_status=answer_status,
            mode=mode,
            identity=identity,
            star_version=star_version,
        )
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections_accepted = 0
        self.brain.add_listener(self._on_state)

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if self._server is None:
            raise RuntimeError("the simulated printer is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def serial(self) -> str | None:
        """The serial number it answers to ``GS I 68`` (None: it does not tell)."""
        identity = self.brain.identity
        return identity.serial if identity is not None else None

    @property
    def address_id(self) -> str:
        """The id a discovery method gives it before identification: where it is."""
        return network_printer_id(self.host, self.port)

    @property
    def printer_id(self) -> str:
        """The id discovery gives this printer: by its serial when it tells one."""
        return network_printer_id(self.host, self.port, serial=self.serial)

    async def start(self) -> None:
        """Start listening."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(
            self._serve, self.host, self._requested_port, reuse_address=True
        )

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is None:
            return
        self._server.close()
        # Dropping the links ends every conversation by itself. Cancelling is the last resort:
        # Python 3.11's start_server logs a cancelled handler as an error with a traceback.
        self._abort_all()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=_CLOSE_TIMEOUT)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> SimulatedNetworkPrinter:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def set_state(self, state: SimState | str) -> None:
        """Change the printer's condition; thread-safe."""
        self.brain.set_state(state)

    @property
    def printed(self) -> bytes:
        """The bytes printed so far."""
        return self.brain.printed

    def count_jobs_containing(self, needle: bytes | str) -> int:
        """How many printed jobs contain ``needle``."""
        return self.brain.count_jobs_containing(needle)

    def printer_info(self, source: DiscoverySource = DiscoverySource.MANUAL) -> PrinterInfo:
        """This printer as discovery would report it."""
        return PrinterInfo(
            printer_id=self.printer_id,
            name=self.name,
            connection=Connection.NETWORK,
            source=source,
            host=self.host,
            port=self.port,
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: feed the brain, send back its answers."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections_accepted += 1
        self._writers.add(writer)
        try:
            await self._converse(reader, writer)
        except (OSError, TimeoutError):
            pass  # the client went away
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read until the client closes or the printer is switched off."""
        while self.brain.powered:
            data = await reader.read(_READ_SIZE)
            if not data or not self.brain.powered:
                return
            reply = self.brain.receive(data)
            if reply:
                writer.write(reply)
                async with asyncio.timeout(_DRAIN_TIMEOUT):
                    await writer.drain()

    def _on_state(self, state: SimState) -> None:
        """Switching off drops every connection; a Star ASB is pushed to every one otherwise."""
        if self._loop is None or self._loop.is_closed():
            return
        if state is SimState.POWERED_OFF:
            self._loop.call_soon_threadsafe(self._abort_all)
        elif pushed := self.brain.unsolicited():
            self._loop.call_soon_threadsafe(self._push, pushed)

    def _push(self, data: bytes) -> None:
        """Send unsolicited bytes (an ASB) on every open connection."""
        for writer in list(self._writers):
            if not writer.is_closing():
                writer.write(data)

    def _abort_all(self) -> None:
        """Drop every open connection at once."""
        for writer in list(self._writers):
            writer.transport.abort()
