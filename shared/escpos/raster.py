"""Monochrome images as ESC/POS bytes, and back: ``GS v 0`` raster and ``ESC *`` column bands.

Sans-IO and free of any imaging library: a :class:`Raster` is rows of packed bits, most
significant bit first, a set bit a printed (black) dot, each row ``ceil(width / 8)`` bytes.

``GS v 0 m xL xH yL yH d1...dk`` (Epson ESC/POS "Print raster bit image") sends ``x`` bytes per
row and ``y`` rows; ``m`` = 0 is normal density. Epson limits ``y`` per command by model (2303
on older TM models), and a long image in one command ties up the receive buffer, so images are
sent in bands of at most :data:`BAND_ROWS` rows, as python-escpos does with its fragments.

``ESC * m nL nH d1...dk`` ("Select bit-image mode") prints one band of ``n`` columns; with
``m`` = 33 (24-dot double density) each column is three bytes, top dot in the most significant
bit. A band is followed by ``LF``; the line spacing is set to 24 dots (``ESC 3 24``) first so
bands touch, and reset (``ESC 2``) after. It is for printers whose profile lacks ``GS v 0``.

The decoders read such bytes back into a :class:`Raster` (tests compare what would print with
a reference image; the simulators can show what they received).
"""

from __future__ import annotations

from dataclasses import dataclass

GS, ESC, LF = 0x1D, 0x1B, 0x0A
#: Rows per GS v 0 command.
BAND_ROWS = 256
#: ESC * mode: 24-dot double density (three bytes per column).
ESC_STAR_24 = 33
ESC_STAR_BAND = 24


class RasterError(ValueError):
    """Bytes that are not the raster commands they should be, or a raster of the wrong shape."""


@dataclass(frozen=True)
class Raster:
    """A 1-bit image: ``height`` rows of ``row_bytes`` packed bytes each, 1 = black dot."""

    width: int
    height: int
    data: bytes

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 0:
            raise RasterError(f"bad raster size {self.width}x{self.height}")
        if len(self.data) != self.row_bytes * self.height:
            raise RasterError(f"{len(self.data)} bytes for {self.row_bytes}x{self.height} rows")

    @property
    def row_bytes(self) -> int:
        """Bytes per row."""
        return (self.width + 7) // 8

    def row(self, y: int) -> bytes:
        """Row ``y``'s packed bytes."""
        return self.data[y * self.row_bytes : (y + 1) * self.row_bytes]

    def dot(self, x: int, y: int) -> bool:
        """Whether the dot at (x, y) prints."""
        return bool(self.data[y * self.row_bytes + x // 8] & (0x80 >> (x % 8)))

    def stack(self, other: Raster) -> Raster:
        """This raster with ``other`` below it (same width)."""
        if other.width != self.width:
            raise RasterError(f"cannot stack width {other.width} under {self.width}")
        return Raster(self.width, self.height + other.height, self.data + other.data)


def _le16(value: int) -> bytes:
    return bytes((value & 0xFF, value >> 8))


def gs_v0(raster: Raster, band_rows: int = BAND_ROWS) -> bytes:
    """The raster as GS v 0 commands, ``band_rows`` rows each."""
    out = bytearray()
    for top in range(0, raster.height, band_rows):
        rows = min(band_rows, raster.height - top)
        start = top * raster.row_bytes
        out += bytes((GS, ord("v"), ord("0"), 0)) + _le16(raster.row_bytes) + _le16(rows)
        out += raster.data[start : start + rows * raster.row_bytes]
    return bytes(out)


def column24(raster: Raster, x: int, top: int) -> bytes:
    """Three bytes: the 24 dots of column ``x`` from row ``top`` down (past the end: white);
    the data of 24-dot column images (Epson's ``ESC *``, Star Line Mode's ``ESC X``)."""
    column = bytearray(3)
    for dy in range(ESC_STAR_BAND):
        y = top + dy
        if y < raster.height and raster.dot(x, y):
            column[dy // 8] |= 0x80 >> (dy % 8)
    return bytes(column)


def esc_star(raster: Raster) -> bytes:
    """The raster as 24-dot ESC * bands, each ended by LF, with line spacing set to match."""
    out = bytearray((ESC, ord("3"), ESC_STAR_BAND))
    for top in range(0, raster.height, ESC_STAR_BAND):
        out += bytes((ESC, ord("*"), ESC_STAR_24)) + _le16(raster.width)
        for x in range(raster.width):
            out += column24(raster, x, top)
        out.append(LF)
    out += bytes((ESC, ord("2")))
    return bytes(out)


def _need(data: bytes, at: int, count: int) -> None:
    if at + count > len(data):
        raise RasterError(f"raster command cut short at byte {at}")


def _decode_one_gs_v0(data: bytes, at: int) -> tuple[Raster, int]:
    _need(data, at, 8)
    if data[at : at + 3] != b"\x1dv0" or data[at + 3] not in (0, 48):
        raise RasterError(f"no GS v 0 (normal density) at byte {at}")
    x = data[at + 4] | data[at + 5] << 8
    y = data[at + 6] | data[at + 7] << 8
    _need(data, at + 8, x * y)
    body = data[at + 8 : at + 8 + x * y]
    return Raster(x * 8, y, body), at + 8 + x * y


def find_gs_v0(data: bytes) -> list[int]:
    """Offsets of the GS v 0 commands in ``data`` (skipping over each command's image data)."""
    offsets, at = [], 0
    while (at := data.find(b"\x1dv0", at)) >= 0:
        offsets.append(at)
        _, at = _decode_one_gs_v0(data, at)
    return offsets


def decode_gs_v0(data: bytes, at: int = 0) -> tuple[Raster, int]:
    """Consecutive GS v 0 bands from ``at`` as one raster, and the offset just after them."""
    raster, at = _decode_one_gs_v0(data, at)
    while data.startswith(b"\x1dv0", at):
        band, at = _decode_one_gs_v0(data, at)
        raster = raster.stack(band)
    return raster, at


def decode_esc_star(data: bytes, at: int = 0) -> tuple[Raster, int]:
    """The 24-dot ESC * bands starting at ``at`` (after ``ESC 3 24``) as one raster."""
    if data[at : at + 3] == bytes((ESC, ord("3"), ESC_STAR_BAND)):
        at += 3
    bands: list[Raster] = []
    while data.startswith(bytes((ESC, ord("*"), ESC_STAR_24)), at):
        _need(data, at, 5)
        width = data[at + 3] | data[at + 4] << 8
        _need(data, at + 5, width * 3 + 1)
        columns = data[at + 5 : at + 5 + width * 3]
        bands.append(_band_rows(width, columns))
        at += 5 + width * 3 + 1
    if not bands:
        raise RasterError(f"no 24-dot ESC * band at byte {at}")
    raster = bands[0]
    for band in bands[1:]:
        raster = raster.stack(band)
    return raster, at


def _band_rows(width: int, columns: bytes) -> Raster:
    """24 rows from ESC * column data."""
    row_bytes = (width + 7) // 8
    rows = bytearray(row_bytes * ESC_STAR_BAND)
    for x in range(width):
        for dy in range(ESC_STAR_BAND):
            if columns[x * 3 + dy // 8] & (0x80 >> (dy % 8)):
                rows[dy * row_bytes + x // 8] |= 0x80 >> (x % 8)
    return Raster(width, ESC_STAR_BAND, bytes(rows))
