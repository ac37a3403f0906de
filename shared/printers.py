"""Printer identity and live status as they travel on the wire."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from shared.wire import Identifier, PrinterId, ShortText, WireModel


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


class PrinterStatus(WireModel):
    """What the printer itself answered to DLE EOT 1-4, plus the summary state."""

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

    @property
    def ready(self) -> bool:
        """True only when the printer answered and can print now."""
        return self.state in (PrinterState.ONLINE, PrinterState.PAPER_NEAR_END)


UNKNOWN_STATUS = PrinterStatus(state=PrinterState.UNKNOWN, detail="no reply from printer")


class Connection(StrEnum):
    """How the agent reaches a printer."""

    USB = "usb"
    NETWORK = "network"


class DiscoverySource(StrEnum):
    """How the agent found a printer."""

    USB = "usb"
    MDNS = "mdns"
    SWEEP = "sweep"
    MANUAL = "manual"


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
    #: python-escpos capability profile used to build bytes for this printer.
    profile: ShortText | None = None
    paper_width_mm: Literal[58, 80] | None = None
    status: PrinterStatus | None = None


class AgentInfo(WireModel):
    """Who an agent is: announced on every connect."""

    agent_id: Identifier
    hostname: ShortText
    os: ShortText
    version: ShortText
    started_at: datetime | None = None
