"""Bytes to print, built with python-escpos' Dummy printer and the printer's capability profile.

The profile (``PrinterInfo.profile``, a python-escpos profile name such as ``TM-T88III`` or
``POS-5890``) decides what the printer can do: a native QR code (``GS ( k``) when it
supports one, a raster image otherwise; a cut only when it has a cutter. Unknown profile
names fall back to python-escpos' ``default`` profile (an 80 mm Epson-like printer).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from escpos.capabilities import CAPABILITIES
from escpos.printer import Dummy

from shared.documents import CutLine, FeedLine, QrLine, ReceiptDocument, TextLine
from shared.printers import PrinterInfo

log = logging.getLogger(__name__)

DEFAULT_PROFILE = "default"
TEST_PAGE_QR_SIZE = 6


def profile_name(name: str | None) -> str:
    """``name`` if python-escpos knows it, else the default profile."""
    if name and name in CAPABILITIES["profiles"]:
        return name
    if name:
        log.warning("unknown printer profile %r, using %r", name, DEFAULT_PROFILE)
    return DEFAULT_PROFILE


def new_printer(profile: str | None = None) -> Dummy:
    """An in-memory python-escpos printer, initialised (``ESC @``)."""
    printer = Dummy(profile=profile_name(profile))
    printer.hw("INIT")
    return printer


def _text(p: Dummy, line: TextLine) -> None:
    """One styled line of text."""
    size: dict[str, Any] = {"normal_textsize": True}
    if line.width > 1 or line.height > 1:
        size = {"custom_size": True, "width": line.width, "height": line.height}
    p.set(align=line.align, bold=line.bold, underline=int(line.underline), **size)
    p.textln(line.text)


def _qr(p: Dummy, line: QrLine) -> None:
    """A QR code: native when the profile supports it, else a raster image."""
    if p.profile.supports("qrCode"):
        p.set(align=line.align)
        p.qr(line.data, size=line.size, native=True)
    else:
        p.qr(line.data, size=line.size, native=False, center=line.align == "center")
    p.set(align="left")


def _feed(p: Dummy, line: FeedLine) -> None:
    """Blank lines."""
    p.ln(line.lines)


def _cut(p: Dummy, line: CutLine) -> None:
    """A full or partial cut (python-escpos skips it on printers without a cutter)."""
    p.cut(mode="PART" if line.partial else "FULL")


_RENDERERS: dict[type[Any], Any] = {TextLine: _text, QrLine: _qr, FeedLine: _feed, CutLine: _cut}


def render_document(document: ReceiptDocument, *, profile: str | None = None) -> bytes:
    """A receipt document as ESC/POS bytes for a printer with ``profile``."""
    p = new_printer(profile)
    for line in document.lines:
        _RENDERERS[type(line)](p, line)
    p.set_with_default()
    if document.cut:
        p.cut()
    return bytes(p.output)


def render_test_page(
    *,
    correlation_id: str,
    agent_id: str,
    hostname: str,
    printer: PrinterInfo,
    now: datetime | None = None,
) -> bytes:
    """The test page: who printed it, on what, when, and the correlation id as text and QR."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    profile = profile_name(printer.profile)
    lines: list[TextLine | QrLine | FeedLine] = [
        TextLine(text="CHIT TEST PAGE", bold=True, align="center", width=2, height=2),
        FeedLine(type="feed"),
        TextLine(text=f"Printer: {printer.name}"),
        TextLine(text=f"Id: {printer.printer_id}"),
        TextLine(text=f"Agent: {agent_id} on {hostname}"),
        TextLine(text=f"Time: {when}"),
        TextLine(text=f"Profile: {profile}"),
        FeedLine(type="feed"),
        QrLine(type="qr", data=correlation_id, size=TEST_PAGE_QR_SIZE),
        TextLine(text=correlation_id, align="center"),
        TextLine(text="If you can read this, printing works.", align="center"),
    ]
    return render_document(ReceiptDocument(lines=lines), profile=profile)
