"""The Star Graphic (raster) backend of agent.render, for Star printers that print only raster.

The TSP100 futurePRNT family (TSP100, TSP143, TSP143II, TSP143III, the TSP100IV in Star
Graphic emulation) takes none of Line Mode's text, image or QR commands: the whole document is
drawn and sent as Star raster lines (shared.escpos.star_raster). So every line goes through the
image path (agent.glyphs, agent.imagelines; the walk treats the text mode as ``image``), QR
codes are drawn with the qrcode library (as python-escpos' non-native QR path does: model 2,
error correction L, ``size`` dots a module, a one-module border), blank lines are raster
vertical moves and each cut is a form feed in a cutting FF mode. The width comes from the paper:
80 mm is 576 dots at 203 dpi (the TSP100 series prints 72 mm), 58 mm 384.
"""

from __future__ import annotations

import qrcode
from PIL import Image

from agent.codepages import CodePageWriter
from agent.imagelines import Target, image_bytes, offset, place
from agent.render_star import FONT_A_DOTS, STAR_DOTS
from shared.escpos import star_raster

#: Dot lines one blank line (a FeedLine's line) feeds: 4 mm at 8 dots/mm, as Line Mode's
#: power-on line feed.
BLANK_LINE_DOTS = 32
#: Largest module size of a drawn QR code (as python-escpos' ``qr`` allows).
MAX_QR_MODULE = 16


def star_graphic_target(paper_width_mm: int | None) -> Target:
    """Dots and columns of a Star Graphic printer with this paper; images as raster lines."""
    dots = STAR_DOTS.get(paper_width_mm or 80, STAR_DOTS[80])
    return Target(dots, dots // FONT_A_DOTS, "star_raster")


def qr_image(data: str, size: int, dots: int) -> Image.Image:
    """A QR code (model 2, error level L) drawn ``size`` dots a module, smaller if it would not
    fit in ``dots``."""
    code = qrcode.QRCode(
        version=None,
        box_size=1,
        border=1,
        error_correction=qrcode.constants.ERROR_CORRECT_L,
    )
    code.add_data(data)
    code.make(fit=True)
    modules = code.modules_count + 2
    code.box_size = max(1, min(size, MAX_QR_MODULE, dots // modules))
    image: Image.Image = code.make_image().get_image()
    return image.convert("L")


class StarGraphicBackend:
    """Star raster bytes for one document: raster mode entered at the start, left at the end."""

    def __init__(self, paper_width_mm: int | None) -> None:
        self.out = bytearray(star_raster.start())
        self.target = star_graphic_target(paper_width_mm)
        #: Never used for text (every line is drawn); the walk asks for a writer.
        self.writer = CodePageWriter({})

    def raw(self, data: bytes) -> None:
        """Bytes as they are (drawn lines, already raster lines)."""
        self.out += data

    def style(self, align: str, bold: bool, underline: bool, width: int, height: int) -> None:
        """Nothing: styles are drawn into the lines."""

    def qr(self, data: str, size: int, align: str) -> None:
        """A QR code drawn as raster lines at ``align``."""
        drawn = qr_image(data, size, self.target.dots)
        placed = place([(drawn, offset(drawn.width, self.target.dots, align))], self.target.dots)
        self.out += image_bytes(placed, "star_raster")

    def feed(self, lines: int) -> None:
        """Blank lines: a raster vertical move."""
        self.out += star_raster.move(lines * BLANK_LINE_DOTS)

    def cut(self, partial: bool) -> None:
        """Feed past the cutter and cut (a form feed in a cutting FF mode)."""
        self.out += star_raster.cut(partial)

    def finish(self, cut: bool) -> bytes:
        """The closing cut if asked for, then out of raster mode, and the bytes."""
        if cut:
            self.cut(partial=False)
        return bytes(self.out + star_raster.quit_raster())
