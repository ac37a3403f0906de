"""Bytes to print, built with python-escpos' Dummy printer and the printer's capability profile.

The profile (``PrinterInfo.profile``, a python-escpos profile name such as ``TM-T88III`` or
``POS-5890``) decides what the printer can do: its code pages, a native QR code (``GS ( k``) or
a raster image, a cut only when it has a cutter, ``GS v 0`` or ``ESC *`` for images, its dot
width. Unknown profile names fall back to python-escpos' ``default`` profile (an 80 mm
Epson-like printer).

Text, per the printer's text mode (shared.documents.TextMode): in ``auto`` each line goes as
text in the code page that holds it (agent.codepages) when it needs no shaping, and as an image
drawn with the shipped fonts (agent.glyphs) otherwise: Arabic, Hebrew, Thai, CJK, emoji, or
letters none of the printer's pages has. ``image`` draws every line; ``text`` never does (what
no page holds prints as "?", right-to-left text is reordered for the printer first).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import arabic_reshaper
from bidi import get_display
from escpos.capabilities import CAPABILITIES
from escpos.printer import Dummy

import agent.profiles  # noqa: F401 (registers the conservative profile with python-escpos)
from agent.codepages import CodePageWriter, clean, needs_layout, profile_code_pages
from agent.glyphs import Style, base_rtl, draw_line, measure, wrap
from agent.imagelines import RasterKind, Target, image_bytes, offset, place, target_for
from shared.documents import (
    TEXT_MODES,
    CutLine,
    Direction,
    FeedLine,
    PairLine,
    QrLine,
    ReceiptDocument,
    TextLine,
    TextMode,
)
from shared.printers import PrinterInfo

log = logging.getLogger(__name__)

DEFAULT_PROFILE = "default"
TEST_PAGE_QR_SIZE = 6
#: Dots between the two texts of a pair line.
PAIR_GAP = 16
#: The Arabic and Chinese lines of the test page: a manager sees at once if the printer can.
TEST_PAGE_ARABIC = "العربية: اختبار الطباعة"
TEST_PAGE_CHINESE = "中文：打印测试"  # noqa: RUF001 (the full-width colon of Chinese text)


def profile_name(name: str | None) -> str:
    """``name`` if python-escpos knows it, else the default profile."""
    if name and name in CAPABILITIES["profiles"]:
        return name
    if name:
        log.warning("unknown printer profile %r, using %r", name, DEFAULT_PROFILE)
    return DEFAULT_PROFILE


def text_mode_of(info: PrinterInfo) -> TextMode:
    """The printer's text mode (``auto`` unless one is set)."""
    mode = getattr(info, "text_mode", None)
    return mode if mode in TEXT_MODES else "auto"


def new_printer(profile: str | None = None) -> Dummy:
    """An in-memory python-escpos printer, initialised (``ESC @``)."""
    printer = Dummy(profile=profile_name(profile))
    printer.hw("INIT")
    return printer


def resolve_align(align: str, direction: Direction, rtl: bool) -> str:
    """ "start"/"end" as "left"/"right" for the document's direction (or the line's, in auto)."""
    if align not in ("start", "end"):
        return align
    right_to_left = direction == "rtl" or (direction == "auto" and rtl)
    return "right" if (align == "start") == right_to_left else "left"


class DocumentRenderer:
    """Renders one document for one printer: keeps the code page and the target."""

    def __init__(
        self,
        profile: str | None,
        text_mode: TextMode = "auto",
        paper_width_mm: int | None = None,
        direction: Direction = "auto",
    ) -> None:
        self.p = new_printer(profile)
        data: dict[str, Any] = self.p.profile.profile_data
        self.target: Target = target_for(data, paper_width_mm)
        self.writer = CodePageWriter(profile_code_pages(data.get("codePages") or {}))
        self.mode = text_mode
        self.direction = direction

    def as_text(self, text: str) -> bool:
        """Whether a line goes to the printer as text (else as an image)."""
        if self.mode == "text" or self.target.raster is None:
            return True
        if self.mode == "image":
            return False
        return not needs_layout(text) and self.writer.fits(text)

    def text_bytes(self, text: str) -> bytes:
        """A line as text in the printer's code pages ("?" for what none holds)."""
        if needs_layout(text) and base_rtl(text):
            text = str(get_display(arabic_reshaper.reshape(text)))
        return self.writer.encode(text, fallback="?") or b""

    def image(self, text: str, style: Style, align: str) -> None:
        """A line drawn as an image, wrapped to the printer's width."""
        assert self.target.raster is not None
        for chunk in drawn_text(text, style, align, self.target.dots, self.target.raster):
            self.p._raw(chunk)

    def text(self, line: TextLine) -> None:
        """One styled line of text."""
        text = clean(line.text)
        align = resolve_align(line.align, self.direction, base_rtl(text))
        if not self.as_text(text):
            style = Style(24, line.width, line.height, line.bold, line.underline)
            self.image(text, style, align)
            return
        self._style(align, line.bold, line.underline, line.width, line.height)
        self.p._raw(self.text_bytes(text) + b"\n")

    def _style(self, align: str, bold: bool, underline: bool, width: int, height: int) -> None:
        size: dict[str, Any] = {"normal_textsize": True}
        if width > 1 or height > 1:
            size = {"custom_size": True, "width": width, "height": height}
        self.p.set(align=align, bold=bold, underline=int(underline), **size)

    def pair(self, line: PairLine) -> None:
        """Two texts at the two edges of one line (or on two lines when they do not fit)."""
        left, right = clean(line.left), clean(line.right)
        if self.as_text(left) and self.as_text(right):
            self._text_pair(line, left, right)
        else:
            self._image_pair(line, left, right)

    def _text_pair(self, line: PairLine, left: str, right: str) -> None:
        columns = self.target.columns // line.width
        self._style("left", line.bold, False, line.width, line.height)
        if len(left) + 1 + len(right) <= columns:
            padded = left + " " * (columns - len(left) - len(right)) + right
            self.p._raw(self.text_bytes(padded) + b"\n")
            return
        self.p._raw(self.text_bytes(left) + b"\n")
        self._style("right", line.bold, False, line.width, line.height)
        self.p._raw(self.text_bytes(right) + b"\n")

    def _image_pair(self, line: PairLine, left: str, right: str) -> None:
        assert self.target.raster is not None
        style, dots = Style(24, line.width, line.height, line.bold), self.target.dots
        if measure(left, style) + PAIR_GAP + measure(right, style) > dots:
            self.image(left, style, "left")
            self.image(right, style, "right")
            return
        first, second = draw_line(left, style), draw_line(right, style)
        placed = place([(first, 0), (second, dots - second.width)], dots)
        self.p._raw(image_bytes(placed, self.target.raster))

    def qr(self, line: QrLine) -> None:
        """A QR code: native when the profile supports it, else a raster image."""
        align = resolve_align(line.align, self.direction, False)
        if self.p.profile.supports("qrCode"):
            self.p.set(align=align)
            self.p.qr(line.data, size=line.size, native=True)
        else:
            self.p.qr(line.data, size=line.size, native=False, center=align == "center")
        self.p.set(align="left")

    def feed(self, line: FeedLine) -> None:
        """Blank lines."""
        self.p.ln(line.lines)

    def cut(self, line: CutLine) -> None:
        """A full or partial cut (python-escpos skips it on printers without a cutter)."""
        self.p.cut(mode="PART" if line.partial else "FULL")

    def render(self, document: ReceiptDocument) -> bytes:
        """The document's bytes."""
        handlers: dict[type[Any], Any] = {
            TextLine: self.text,
            PairLine: self.pair,
            QrLine: self.qr,
            FeedLine: self.feed,
            CutLine: self.cut,
        }
        for line in document.lines:
            handlers[type(line)](line)
        self.p.set_with_default()
        if document.cut:
            self.p.cut()
        return bytes(self.p.output)


@lru_cache(maxsize=128)
def drawn_text(
    text: str, style: Style, align: str, dots: int, raster: RasterKind
) -> tuple[bytes, ...]:
    """A line drawn, wrapped to ``dots`` and encoded as image commands, one chunk per printed
    line. Cached: drawing is most of a document's rendering time (about 1.5 ms a line), and the
    same lines come back on every test page and in every receipt's header and footer."""
    rtl = base_rtl(text)
    chunks = []
    for part in wrap(text, dots, style, rtl):
        drawn = draw_line(part, style, rtl)
        chunks.append(image_bytes(place([(drawn, offset(drawn.width, dots, align))], dots), raster))
    return tuple(chunks)


def render_document(
    document: ReceiptDocument,
    *,
    profile: str | None = None,
    text_mode: TextMode = "auto",
    paper_width_mm: int | None = None,
) -> bytes:
    """A receipt document as ESC/POS bytes for a printer with ``profile`` and ``text_mode``."""
    renderer = DocumentRenderer(profile, text_mode, paper_width_mm, document.direction)
    return renderer.render(document)


def render_for(document: ReceiptDocument, printer: PrinterInfo) -> bytes:
    """A document as bytes for this printer: its profile, text mode and paper width."""
    return render_document(
        document,
        profile=printer.profile,
        text_mode=text_mode_of(printer),
        paper_width_mm=printer.paper_width_mm,
    )


def render_test_page(
    *,
    correlation_id: str,
    agent_id: str,
    hostname: str,
    printer: PrinterInfo,
    now: datetime | None = None,
) -> bytes:
    """The test page: who printed it, on what, when, the correlation id as text and QR, and a
    line in Arabic and one in Chinese (images unless the printer's text mode is ``text``)."""
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
        TextLine(text=f"Text mode: {text_mode_of(printer)}"),
        TextLine(text=TEST_PAGE_ARABIC),
        TextLine(text=TEST_PAGE_CHINESE),
        FeedLine(type="feed"),
        QrLine(type="qr", data=correlation_id, size=TEST_PAGE_QR_SIZE),
        TextLine(text=correlation_id, align="center"),
        TextLine(text="If you can read this, printing works.", align="center"),
    ]
    document = ReceiptDocument(lines=lines)
    return render_document(
        document,
        profile=profile,
        text_mode=text_mode_of(printer),
        paper_width_mm=printer.paper_width_mm,
    )
