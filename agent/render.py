"""Bytes to print: one walk over a document's lines, in the printer's command set.

The walk (:class:`DocumentRenderer`) decides, line by line, what goes as text and what as an
image, wraps, places and encodes; a backend turns that into the printer's commands:

- ESC/POS (agent.render_escpos): python-escpos' Dummy printer with the printer's capability
  profile, for every printer not in Star mode;
- Star Line Mode (agent.render_star): for a printer whose status channel is ``star`` (found at
  first contact, or set by a manager with ``statusChannel``), whose commands are Star's;
- Star Graphic mode (agent.render_star_graphic): for Star's raster-only printers (the TSP100
  futurePRNT family), which print no text commands: every line is drawn, the document goes out
  as Star raster lines.

Which one a printer gets is agent.command_sets' choice (a manager's ``commandSet`` first).

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
from typing import Any, Protocol

import arabic_reshaper
from bidi import get_display

from agent.codepages import CodePageWriter, clean, needs_layout
from agent.command_sets import RenderCommands, command_set
from agent.glyphs import Style, base_rtl, draw_line, measure, wrap
from agent.imagelines import RasterKind, Target, image_bytes, offset, place
from agent.render_escpos import DEFAULT_PROFILE, EscPosBackend, new_printer, profile_name
from agent.render_star import StarLineBackend
from agent.render_star_graphic import StarGraphicBackend
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

__all__ = [
    "DEFAULT_PROFILE",
    "DocumentRenderer",
    "command_set",
    "new_printer",
    "profile_name",
    "render_document",
    "render_for",
    "render_test_page",
]

log = logging.getLogger(__name__)

TEST_PAGE_QR_SIZE = 6
#: Dots between the two texts of a pair line.
PAIR_GAP = 16
#: The Arabic and Chinese lines of the test page: a manager sees at once if the printer can.
TEST_PAGE_ARABIC = "العربية: اختبار الطباعة"
TEST_PAGE_CHINESE = "中文：打印测试"  # noqa: RUF001 (the full-width colon of Chinese text)
#: What the test page says in its "Profile:" line for a printer in Star mode.
STAR_PROFILE = "Star Line Mode"
#: ... and for a printer in Star Graphic mode.
STAR_GRAPHIC_PROFILE = "Star Graphic mode (raster)"


def text_mode_of(info: PrinterInfo) -> TextMode:
    """The printer's text mode (``auto`` unless one is set)."""
    mode = getattr(info, "text_mode", None)
    return mode if mode in TEXT_MODES else "auto"


class Backend(Protocol):
    """A command set: what the walk asks of it (agent.render_escpos, agent.render_star)."""

    target: Target
    writer: CodePageWriter

    def raw(self, data: bytes) -> None: ...
    def style(self, align: str, bold: bool, underline: bool, width: int, height: int) -> None: ...
    def qr(self, data: str, size: int, align: str) -> None: ...
    def feed(self, lines: int) -> None: ...
    def cut(self, partial: bool) -> None: ...
    def finish(self, cut: bool) -> bytes: ...


def backend_for(
    commands: RenderCommands, profile: str | None, paper_width_mm: int | None
) -> Backend:
    """The backend of a command set (the profile counts for ESC/POS only)."""
    if commands == "star":
        return StarLineBackend(paper_width_mm)
    if commands == "star-graphic":
        return StarGraphicBackend(paper_width_mm)
    return EscPosBackend(profile, paper_width_mm)


def resolve_align(align: str, direction: Direction, rtl: bool) -> str:
    """ "start"/"end" as "left"/"right" for the document's direction (or the line's, in auto)."""
    if align not in ("start", "end"):
        return align
    right_to_left = direction == "rtl" or (direction == "auto" and rtl)
    return "right" if (align == "start") == right_to_left else "left"


class DocumentRenderer:
    """Renders one document for one printer: the walk, over a command-set backend."""

    def __init__(
        self,
        profile: str | None,
        text_mode: TextMode = "auto",
        paper_width_mm: int | None = None,
        direction: Direction = "auto",
        commands: RenderCommands = "escpos",
    ) -> None:
        self.backend = backend_for(commands, profile, paper_width_mm)
        self.target: Target = self.backend.target
        self.writer = self.backend.writer
        # A Star Graphic printer prints no text commands: every line is drawn.
        self.mode: TextMode = "image" if commands == "star-graphic" else text_mode
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
            self.backend.raw(chunk)

    def text(self, line: TextLine) -> None:
        """One styled line of text."""
        text = clean(line.text)
        align = resolve_align(line.align, self.direction, base_rtl(text))
        if not self.as_text(text):
            style = Style(24, line.width, line.height, line.bold, line.underline)
            self.image(text, style, align)
            return
        self.backend.style(align, line.bold, line.underline, line.width, line.height)
        self.backend.raw(self.text_bytes(text) + b"\n")

    def pair(self, line: PairLine) -> None:
        """Two texts at the two edges of one line (or on two lines when they do not fit)."""
        left, right = clean(line.left), clean(line.right)
        if self.as_text(left) and self.as_text(right):
            self._text_pair(line, left, right)
        else:
            self._image_pair(line, left, right)

    def _text_pair(self, line: PairLine, left: str, right: str) -> None:
        columns = self.target.columns // line.width
        self.backend.style("left", line.bold, False, line.width, line.height)
        if len(left) + 1 + len(right) <= columns:
            padded = left + " " * (columns - len(left) - len(right)) + right
            self.backend.raw(self.text_bytes(padded) + b"\n")
            return
        self.backend.raw(self.text_bytes(left) + b"\n")
        self.backend.style("right", line.bold, False, line.width, line.height)
        self.backend.raw(self.text_bytes(right) + b"\n")

    def _image_pair(self, line: PairLine, left: str, right: str) -> None:
        assert self.target.raster is not None
        style, dots = Style(24, line.width, line.height, line.bold), self.target.dots
        if measure(left, style) + PAIR_GAP + measure(right, style) > dots:
            self.image(left, style, "left")
            self.image(right, style, "right")
            return
        first, second = draw_line(left, style), draw_line(right, style)
        placed = place([(first, 0), (second, dots - second.width)], dots)
        self.backend.raw(image_bytes(placed, self.target.raster))

    def qr(self, line: QrLine) -> None:
        """A QR code, as the backend prints one."""
        align = resolve_align(line.align, self.direction, False)
        self.backend.qr(line.data, line.size, align)

    def feed(self, line: FeedLine) -> None:
        """Blank lines."""
        self.backend.feed(line.lines)

    def cut(self, line: CutLine) -> None:
        """A full or partial cut."""
        self.backend.cut(line.partial)

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
        return self.backend.finish(document.cut)


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
    commands: RenderCommands = "escpos",
) -> bytes:
    """A receipt document as bytes in ``commands`` (ESC/POS for ``profile``, Star Line Mode or
    Star Graphic mode) for a printer with ``text_mode`` and ``paper_width_mm``."""
    renderer = DocumentRenderer(profile, text_mode, paper_width_mm, document.direction, commands)
    return renderer.render(document)


def render_for(document: ReceiptDocument, printer: PrinterInfo) -> bytes:
    """A document as bytes for this printer: its command set, profile, text mode and paper."""
    return render_document(
        document,
        profile=printer.profile,
        text_mode=text_mode_of(printer),
        paper_width_mm=printer.paper_width_mm,
        commands=command_set(printer),
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
    commands = command_set(printer)
    profile = {"escpos": profile_name(printer.profile), "star": STAR_PROFILE}.get(
        commands, STAR_GRAPHIC_PROFILE
    )
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
        commands=commands,
    )
