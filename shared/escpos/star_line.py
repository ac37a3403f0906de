"""Star Line Mode documents as bytes, without I/O: text styles, images, QR codes and cuts.

A Star printer in Star mode (TSP650, TSP650II, TSP700II, TSP800II, SP700, mC-Print and SM-L in
Star Line Mode or StarPRNT emulation) does not take ESC/POS: ``GS V`` does not cut, ``GS v 0``
prints no image, ``GS ( k`` no QR code, and ``ESC t n`` / ``ESC a n`` / ``ESC d n`` mean other
things. Each function here returns the bytes of one command from Star's "STAR Line Mode Command
Specifications" (Rev 1.12, and Rev 0.00 of the thermal/slip edition). Each docstring names
the class the specification's command list files the command under (and the section number
where one is quoted). StarPRNT has the same codes for all of them.

Images are 24-dot "fine density bit image" bands (``ESC X n1 n2 d1...dk``, 8 dots/mm both
ways), each followed by ``LF`` with the line feed amount set to 3 mm = 24 dots (``ESC 0``) so
bands touch, and set back to 4 mm (``ESC z 1``, the power-on amount) after. That is the image
command of Line Mode itself: Star's raster mode (``ESC * r A`` ... ``b n1 n2 data`` ...
``ESC * r B``) is a mode of its own, entered with a form feed of what is buffered and left
through its "EOT mode", whose power-on setting feeds and cuts: wrong for a line drawn in the
middle of a receipt. (A printer in Star Graphic mode, the raster-only emulation of TSP100
futurePRNT models, prints none of this: its documents are all raster, shared.escpos.star_raster.)

QR codes are the printer's own (``ESC GS y``: model, error correction, cell size, store,
print), which the TSP650II, TSP100III/IV, mC-Print and SM-L have; the first TSP650 has none.
"""

from __future__ import annotations

from typing import Literal

from shared.escpos.raster import Raster, column24

ESC, GS, LF = 0x1B, 0x1D, 0x0A
StarAlign = Literal["left", "center", "right"]
QrErrorLevel = Literal["L", "M", "Q", "H"]
#: Largest character expansion ``ESC i`` takes (0-5: one to six times).
MAX_EXPANSION = 6
#: Largest QR cell size (dots per module) ``ESC GS y S 2 n`` takes.
MAX_QR_CELL = 8
#: Rows of one ``ESC X`` band.
BAND_ROWS = 24

#: ``ESC GS t n`` code page numbers ("Font style and character set", Specify code page: Star's
#: table, not Epson's ``ESC t`` one), for the pages python-escpos has a character table for and
#: the peer encoder (@point-of-sale/receipt-printer-encoder) numbers the same way. 0 ("normal")
#: is Star's own table and 2 Katakana; neither has a Python codec, so they are never selected.
STAR_CODE_PAGES: dict[str, int] = {
    "CP437": 1,
    "CP858": 4,
    "CP852": 5,
    "CP860": 6,
    "CP861": 7,
    "CP863": 8,
    "CP865": 9,
    "CP866": 10,
    "CP857": 12,
    "CP737": 15,
    "CP1252": 32,
    "CP1250": 33,
    "CP1251": 34,
}
_ALIGN = {"left": 0, "center": 1, "right": 2}
_QR_ERROR = {"L": 0, "M": 1, "Q": 2, "H": 3}


def initialize() -> bytes:
    """``ESC @`` ("Others", Command initialization): settings back to their power-on values."""
    return bytes((ESC, ord("@")))


def emphasis(on: bool) -> bytes:
    """``ESC E`` select / ``ESC F`` cancel emphasized printing ("Print modes")."""
    return bytes((ESC, ord("E") if on else ord("F")))


def underline(on: bool) -> bytes:
    """``ESC - n`` ("Print modes"): n = 1 underline on, 0 off."""
    return bytes((ESC, ord("-"), 1 if on else 0))


def expansion(width: int, height: int) -> bytes:
    """``ESC i n1 n2`` ("Character expansion settings"): n1 height, n2 width, 0 = 1x."""
    tall = max(1, min(MAX_EXPANSION, height)) - 1
    wide = max(1, min(MAX_EXPANSION, width)) - 1
    return bytes((ESC, ord("i"), tall, wide))


def align(where: StarAlign) -> bytes:
    """``ESC GS a n`` ("Horizontal direction position", Specify position alignment): 0 left,
    1 center, 2 right. Not Epson's ``ESC a``, which Star Line Mode reads as a paper feed."""
    return bytes((ESC, GS, ord("a"), _ALIGN[where]))


def code_page(number: int) -> bytes:
    """``ESC GS t n`` ("Font style and character set"): select code page ``number``."""
    return bytes((ESC, GS, ord("t"), number))


def line_feed() -> bytes:
    """``LF`` ("Line spacing"): print the line buffer and feed one line."""
    return bytes((LF,))


def feed_lines(lines: int) -> bytes:
    """``ESC a n`` ("Line spacing"): feed ``n`` lines (1-127). Not Epson's alignment command."""
    return bytes((ESC, ord("a"), max(1, min(127, lines))))


def line_spacing_24() -> bytes:
    """``ESC 0`` ("Line spacing"): line feed amount 3 mm (24 dots at 8 dots/mm), for image bands."""
    return bytes((ESC, ord("0")))


def line_spacing_default() -> bytes:
    """``ESC z 1`` ("Line spacing"): line feed amount 4 mm, the power-on amount."""
    return bytes((ESC, ord("z"), 1))


def cut(partial: bool = False) -> bytes:
    """``ESC d n`` (3.3.11 "Cutter control"): feed to the cutter, then a full (n = 2) or partial
    (n = 3) cut; n = 0 / 1 would cut at the print position, through the last line."""
    return bytes((ESC, ord("d"), 3 if partial else 2))


def bit_image(raster: Raster) -> bytes:
    """``ESC X n1 n2 d1...dk`` bands ("Bit image graphics", fine density bit image, 24 dots high,
    k = 3 (n1 + 256 n2)), each ended by ``LF``, with the line feed amount set to match."""
    out = bytearray(line_spacing_24())
    for top in range(0, raster.height, BAND_ROWS):
        out += bytes((ESC, ord("X"), raster.width & 0xFF, raster.width >> 8))
        for x in range(raster.width):
            out += column24(raster, x, top)
        out.append(LF)
    return bytes(out + line_spacing_default())


def qr_code(data: bytes, cell: int, error: QrErrorLevel = "L") -> bytes:
    """A QR code printed now ("QR codes"): ``ESC GS y S 0 2`` model 2, ``ESC GS y S 1 n``
    error correction, ``ESC GS y S 2 n`` cell size, ``ESC GS y D 1 0 nL nH d`` store (m = 0:
    the printer picks the mode), ``ESC GS y P`` print."""
    if not 1 <= len(data) <= 7089:
        raise ValueError(f"a QR code holds 1 to 7089 bytes, not {len(data)}")
    size = max(1, min(MAX_QR_CELL, cell))
    setup = b"\x1b\x1dyS0\x02" + b"\x1b\x1dyS1" + bytes((_QR_ERROR[error],))
    setup += b"\x1b\x1dyS2" + bytes((size,))
    store = b"\x1b\x1dyD1\x00" + bytes((len(data) & 0xFF, len(data) >> 8)) + data
    return setup + store + b"\x1b\x1dyP"
