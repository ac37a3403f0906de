"""A diagnostics bundle: what an agent tells support about itself, bounded and without secrets.

The hub asks with ``agent:diagnostics`` (a ``diagnosticsId``); the agent answers with
``agent:diagnostics:bundle`` carrying a :class:`DiagnosticsBundle` or an error. Every list has
a bound and every text a length, so one bundle is at most a few hundred KiB of JSON; the agent
redacts secrets before sending (agent.diagnostics) and the hub keeps bundles for a limited
time only. Pure models: both programs import them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from shared.printers import PrinterInfo
from shared.wire import ErrorInfo, Identifier, LongText, NonNegativeInt, ShortText, WireModel

#: The most log lines a bundle carries (the newest).
MAX_LOG_LINES = 500
#: The most bytes of JSON a bundle may take on the wire.
MAX_BUNDLE_BYTES = 768 * 1024

Byte = Annotated[int, Field(ge=0, le=255)]


class LogLine(WireModel):
    """One recent log line with its fields (values as text)."""

    ts: datetime
    level: ShortText
    logger: ShortText
    msg: LongText
    fields: Annotated[dict[str, LongText], Field(max_length=64)] = {}


class UsbDevice(WireModel):
    """One device on the USB bus, from its cached descriptors (no device is opened)."""

    vendor_id: Annotated[int, Field(ge=0, le=0xFFFF)]
    product_id: Annotated[int, Field(ge=0, le=0xFFFF)]
    bus: NonNegativeInt | None = None
    address: NonNegativeInt | None = None
    path: ShortText | None = None
    device_class: Byte | None = None
    interface_classes: Annotated[list[Byte], Field(max_length=32)] = []
    #: The vendor's name when the agent knows it (receipt printer makers).
    vendor: ShortText | None = None


class PrinterDiagnostics(WireModel):
    """A printer as its coordinator sees it: identity, last status and the raw status bytes."""

    printer: PrinterInfo
    #: Replies to DLE EOT 1..4 of the last status round (None: no reply to that query).
    status_bytes: Annotated[list[Byte | None], Field(max_length=4)] | None = None
    status_bytes_at: datetime | None = None


class DiscoveryTiming(WireModel):
    """How one discovery method did in the last scan."""

    source: ShortText
    seconds: Annotated[float, Field(ge=0)]
    found: NonNegativeInt | None = None
    error: LongText | None = None


class LinkInfo(WireModel):
    """The hub link as the agent sees it."""

    state: ShortText
    detail: LongText | None = None
    hub: ShortText | None = None


class DiagnosticsBundle(WireModel):
    """Everything in one bundle; ``truncated`` when older log lines had to be left out."""

    collected_at: datetime
    agent_id: Identifier
    version: ShortText
    hostname: ShortText
    os: ShortText
    python: ShortText
    #: The agent's settings, secrets left out (the token is never a setting).
    settings: Annotated[dict[str, Any], Field(max_length=64)]
    link: LinkInfo | None = None
    logs: Annotated[list[LogLine], Field(max_length=MAX_LOG_LINES)]
    usb: Annotated[list[UsbDevice], Field(max_length=256)]
    usb_error: LongText | None = None
    queues: Annotated[list[PrinterInfo], Field(max_length=256)]
    queues_error: LongText | None = None
    printers: Annotated[list[PrinterDiagnostics], Field(max_length=256)]
    discovery: Annotated[list[DiscoveryTiming], Field(max_length=16)]
    truncated: bool = False


class DiagnosticsRequest(WireModel):
    """Hub to agent: collect a bundle and upload it under this id."""

    diagnostics_id: Identifier
    requested_by: ShortText | None = None


class DiagnosticsUpload(WireModel):
    """Agent to hub: the bundle asked for (or why there is none)."""

    diagnostics_id: Identifier
    agent_id: Identifier
    bundle: DiagnosticsBundle | None = None
    error: ErrorInfo | None = None
