"""Printer identity and live status as they travel on the wire."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from shared.wire import Identifier, PrinterId, ShortText, WireModel

#: The capability profile agents use for a printer nothing is known about (neither its model
#: nor its vendor): python-escpos' ``default`` features, but only code page PC437, the one
#: every ESC/POS printer has at power-on; other text prints as images, never in a guessed page.
CONSERVATIVE_PROFILE = "conservative"


class PrinterState(StrEnum):
    """The one-word summary of a printer's condition, worst condition first when several hold."""

    ONLINE = "online"
    PAPER_NEAR_END = "paper_near_end"
    OFFLINE = "offline"
    COVER_OPEN = "cover_open"
    PAPER_OUT = "paper_out"
    ERROR = "error"
    #: The printer did not answer a status query. Never reported as online.
    UNKNOWN = "unknown"
    #: Reached through an OS print queue that accepts jobs and reports no fault; the printer
    #: itself gave no status (a one-way path), so this is the queue's word, never "online".
    QUEUE_READY = "queue_ready"
    #: The printer takes data but has no status channel (no bulk-IN endpoint, no reply to any
    #: status query): it prints, but nobody can say whether it did. Never "online".
    NO_STATUS = "no_status"


class StatusSource(StrEnum):
    """Who gave a status: the printer itself, the OS print queue in front of it, or nobody."""

    HARDWARE = "hardware"
    QUEUE = "queue"
    NONE = "none"


#: How a printer reports its status, i.e. what the agent asks it, if anything.
#: ``escpos``: ``DLE EOT n`` real-time replies (Epson and the ESC/POS clones). ``star``: Star
#: Line Mode / StarPRNT automatic status (ASB) and the ``ENQ`` reply. ``queue``: only the OS
#: print queue's own state. ``none``: nothing (a write-only printer): it prints unchecked.
StatusChannel = Literal["escpos", "star", "queue", "none"]
STATUS_CHANNELS: tuple[StatusChannel, ...] = ("escpos", "star", "queue", "none")
#: The commands a printer's documents are built in, when a manager sets them (None: chosen by
#: the agent from the status channel and the model): ESC/POS, Star Line Mode (StarPRNT has the
#: same commands), or Star Graphic mode (raster only: the TSP100 futurePRNT family).
CommandSetName = Literal["escpos", "star-line", "star-graphic"]
COMMAND_SETS: tuple[CommandSetName, ...] = ("escpos", "star-line", "star-graphic")


class PrinterStatus(WireModel):
    """What the printer reported through its status channel (DLE EOT 1-4, a Star ASB or ENQ
    reply, its OS queue), or that it reports nothing, plus the summary state."""

    state: PrinterState
    #: None when the printer did not answer: we never claim "ok" without a reply.
    online: bool | None = None
    cover_open: bool = False
    paper_near_end: bool = False
    paper_out: bool = False
    feed_button_pressed: bool = False
    drawer_open: bool = False
    recoverable_error: bool = False
    unrecoverable_error: bool = False
    autocutter_error: bool = False
    detail: ShortText | None = None
    checked_at: datetime | None = None
    #: Where this status comes from ("status from the print queue" when ``queue``).
    source: StatusSource = StatusSource.HARDWARE

    @property
    def ready(self) -> bool:
        """True only when the printer (or, on a one-way path, its OS queue) can print now."""
        return self.state in (
            PrinterState.ONLINE,
            PrinterState.PAPER_NEAR_END,
            PrinterState.QUEUE_READY,
            PrinterState.NO_STATUS,
        )

    @property
    def confirmed(self) -> bool:
        """Whether this status is someone's word (the printer's or its queue's): a write
        followed by a confirmed ready status printed; one followed by NO_STATUS was only sent."""
        return self.state is not PrinterState.NO_STATUS


UNKNOWN_STATUS = PrinterStatus(state=PrinterState.UNKNOWN, detail="no reply from printer")
#: What the agent shows for a printer without a status channel.
NO_STATUS_DETAIL = "prints; the printer does not report status"


def no_status(checked_at: datetime | None = None) -> PrinterStatus:
    """The status of a reachable printer that has no status channel."""
    return PrinterStatus(
        state=PrinterState.NO_STATUS,
        detail=NO_STATUS_DETAIL,
        checked_at=checked_at,
        source=StatusSource.NONE,
    )


class Connection(StrEnum):
    """How the agent reaches a printer."""

    USB = "usb"
    NETWORK = "network"
    #: Known only through an OS print queue (serial, parallel, LPD, a device we cannot place).
    QUEUE = "queue"


class DiscoverySource(StrEnum):
    """How the agent found a printer."""

    USB = "usb"
    MDNS = "mdns"
    SWEEP = "sweep"
    MANUAL = "manual"
    #: An OS print queue (CUPS, the Windows spooler).
    QUEUE = "queue"


class PrintPath(StrEnum):
    """Which way the agent sends bytes to a printer."""

    #: The agent opens the printer itself (raw USB, raw TCP) and reads its status.
    DIRECT = "direct"
    #: Through a CUPS queue, as a raw job.
    CUPS = "cups"
    #: Through the Windows spooler, as a RAW job.
    SPOOLER = "spooler"


class QueueInfo(WireModel):
    """An OS print queue in front of a printer: ``(system, name, device)`` identify it."""

    system: Literal["cups", "windows"]
    name: ShortText
    #: CUPS ``device-uri`` (``usb://EPSON/TM-T20III?serial=X``, ``socket://10.0.0.5:9100``)
    #: or the Windows port name (``USB001``, ``IP_10.0.0.5``, ``FILE:``).
    device: ShortText | None = None
    #: CUPS make-and-model or the Windows driver name.
    driver: ShortText | None = None
    #: Whether the driver or model looks like a receipt printer's (or the queue is raw).
    receipt: bool = False
    #: Whether the path through the queue is two-way (the printer's replies can be read).
    bidirectional: bool = False


class PrinterInfo(WireModel):
    """A printer an agent can drive; ``printer_id`` is stable across rediscovery."""

    printer_id: PrinterId
    name: ShortText
    connection: Connection
    source: DiscoverySource
    vendor_id: Annotated[int, Field(ge=0, le=0xFFFF)] | None = None
    product_id: Annotated[int, Field(ge=0, le=0xFFFF)] | None = None
    serial: ShortText | None = None
    usb_path: ShortText | None = None
    host: ShortText | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    manufacturer: ShortText | None = None
    model: ShortText | None = None
    #: Firmware version the printer reported (``GS I 65``).
    firmware: ShortText | None = None
    #: The network printer's MAC address (``aa:bb:cc:dd:ee:ff``) where mDNS or ARP gave it.
    mac: ShortText | None = None
    #: python-escpos capability profile used to build bytes for this printer.
    profile: ShortText | None = None
    paper_width_mm: Literal[58, 80] | None = None
    #: How text is printed (shared.documents.TextMode): None means ``auto``.
    text_mode: Literal["auto", "text", "image"] | None = None
    status: PrinterStatus | None = None
    #: The OS print queue this printer is also (or only) reachable through.
    queue: QueueInfo | None = None
    #: The way the agent prints to it now (None: direct, as before queues existed).
    path: PrintPath | None = None
    #: Every way the agent found to reach it; the path can be changed among these.
    paths: list[PrintPath] | None = None
    #: How it reports status (None: not known yet; detected at first contact, or set by hand).
    status_channel: StatusChannel | None = None
    #: The command set a manager chose for its documents (None: as the agent detects it).
    command_set: CommandSetName | None = None


class AgentInfo(WireModel):
    """Who an agent is: announced on every connect."""

    agent_id: Identifier
    hostname: ShortText
    os: ShortText
    version: ShortText
    started_at: datetime | None = None
