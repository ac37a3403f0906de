"""The Star Line Mode backend of agent.render, for printers whose status channel is ``star``.

A Star printer in Star mode takes Star's commands, not ESC/POS (shared.escpos.star_line builds
them). What it can do is not in a python-escpos profile, so the target comes from the paper
width alone: 80 mm is 576 dots at 203 dpi (TSP650, TSP700II, TSP800II, mC-Print3), 58 mm 384
(mC-Print2, SM-L200); 48 or 32 columns of Font A (12 x 24 dots). Text goes out in Star's code
page numbering (``ESC GS t n``), images as ``ESC X`` bands, QR codes with ``ESC GS y``.
"""

from __future__ import annotations

from typing import cast

from agent.codepages import CodePageWriter, profile_code_pages
from agent.imagelines import Target
from shared.escpos import star_line
from shared.escpos.star_line import STAR_CODE_PAGES, StarAlign

#: Dots per line by paper width (203 dpi); 80 mm when the width is not set.
STAR_DOTS = {58: 384, 80: 576}
#: Font A is 12 dots wide.
FONT_A_DOTS = 12
STAR_SELECT_PAGE = b"\x1b\x1dt"


def star_target(paper_width_mm: int | None) -> Target:
    """Dots, columns and image command of a Star printer with this paper."""
    dots = STAR_DOTS.get(paper_width_mm or 80, STAR_DOTS[80])
    return Target(dots, dots // FONT_A_DOTS, "star_x")


def star_writer() -> CodePageWriter:
    """Text in the Star code pages python-escpos has tables for, selected with ``ESC GS t``."""
    slots = {str(number): name for name, number in STAR_CODE_PAGES.items()}
    return CodePageWriter(profile_code_pages(slots), select=STAR_SELECT_PAGE)


def _align(align: str) -> StarAlign:
    return cast(StarAlign, align if align in ("left", "center", "right") else "left")


class StarLineBackend:
    """Star Line Mode bytes for one document."""

    def __init__(self, paper_width_mm: int | None) -> None:
        self.out = bytearray(star_line.initialize())
        self.target = star_target(paper_width_mm)
        self.writer = star_writer()

    def raw(self, data: bytes) -> None:
        """Bytes as they are (text already encoded, images already built)."""
        self.out += data

    def style(self, align: str, bold: bool, underline: bool, width: int, height: int) -> None:
        """Alignment, emphasis, underline and character expansion for the next text."""
        self.out += star_line.align(_align(align)) + star_line.emphasis(bold)
        self.out += star_line.underline(underline) + star_line.expansion(width, height)

    def qr(self, data: str, size: int, align: str) -> None:
        """The printer's own QR code (model 2, error correction L, as the ESC/POS path)."""
        self.out += star_line.align(_align(align))
        self.out += star_line.qr_code(data.encode("utf-8"), size)
        self.out += star_line.align("left")

    def feed(self, lines: int) -> None:
        """Blank lines (``ESC a n``)."""
        self.out += star_line.feed_lines(lines)

    def cut(self, partial: bool) -> None:
        """Feed to the cutter and cut (a model with only one kind of cut makes that one)."""
        self.out += star_line.cut(partial)

    def finish(self, cut: bool) -> bytes:
        """Default styles again, the closing cut if asked for, and the bytes."""
        self.style("left", False, False, 1, 1)
        if cut:
            self.out += star_line.cut(partial=False)
        return bytes(self.out)
