"""Where a printed line goes: the printer's dot width, and drawn lines placed and encoded in it.

The dot width comes from the python-escpos profile (``media.width.pixels``: 512 for a TM-T88
at 180 dpi, 576 for 80 mm paper at 203 dpi, 384 for 58 mm), or from the paper width set for the
printer (58 mm: 384 dots at 203 dpi, 360 at 180 dpi; 80 mm: 576 / 512). Without either, 512:
it fits every 80 mm printer. Images go out as ``GS v 0`` where the profile has it
(``bitImageRaster``), as ``ESC *`` where it has only column images, and not at all otherwise;
a printer in Star mode takes Star Line Mode's ``ESC X`` bands (shared.escpos.star_line), one in
Star Graphic mode raster lines (shared.escpos.star_raster).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

from shared.escpos import star_line, star_raster
from shared.escpos.raster import Raster, esc_star, gs_v0

RasterKind = Literal["gs_v0", "esc_star", "star_x", "star_raster"]
DEFAULT_DOTS = 512
ESC_A_LEFT = b"\x1ba\x00"


@dataclass(frozen=True)
class Target:
    """What a printer can take: dots per line, characters per line, its image command."""

    dots: int
    columns: int
    raster: RasterKind | None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def dots_for(media: dict[str, Any], paper_width_mm: int | None) -> int:
    """The printable width in dots from a profile's ``media`` and the printer's paper width."""
    dpi = _int(media.get("dpi")) or 203
    width = media.get("width") or {}
    pixels, mm = _int(width.get("pixels")), width.get("mm")
    if paper_width_mm == 58:
        if isinstance(mm, (int, float)) and mm < 60 and pixels:
            return pixels
        return 384 if dpi >= 200 else 360
    if paper_width_mm == 80 and not (isinstance(mm, (int, float)) and mm >= 70 and pixels):
        return 576 if dpi >= 200 else 512
    return pixels or DEFAULT_DOTS


def target_for(profile: dict[str, Any], paper_width_mm: int | None) -> Target:
    """The target of a python-escpos profile's data."""
    dots = dots_for(profile.get("media") or {}, paper_width_mm)
    fonts = profile.get("fonts") or {}
    columns = _int((fonts.get("0") or {}).get("columns")) or dots // 12
    if paper_width_mm is not None:
        columns = min(columns, dots // 12)
    features = profile.get("features") or {}
    raster: RasterKind | None = None
    if features.get("bitImageRaster"):
        raster = "gs_v0"
    elif features.get("bitImageColumn"):
        raster = "esc_star"
    return Target(dots, columns, raster)


def to_raster(image: Image.Image) -> Raster:
    """A grey image (width a multiple of 8) as a raster: darker than 50 % prints."""
    bw = image.convert("L").point(lambda v: 0 if v < 128 else 255).convert("1")
    data = bytes(b ^ 0xFF for b in bw.tobytes())  # Pillow's mode "1" packs 1 = white
    return Raster(bw.width, bw.height, data)


def _ceil8(value: int) -> int:
    return (value + 7) // 8 * 8


def offset(width: int, dots: int, align: str) -> int:
    """Where a drawn line of ``width`` starts on a line of ``dots`` for "left|center|right"."""
    room = max(0, dots - width)
    return {"left": 0, "center": room // 2, "right": room}.get(align, 0)


def place(pieces: list[tuple[Image.Image, int]], dots: int) -> Image.Image:
    """Drawn pieces pasted at their x offsets on one line, cut at the right margin of ink."""
    right = max((x + piece.width for piece, x in pieces), default=8)
    width = min(dots // 8 * 8, _ceil8(right))
    height = max((piece.height for piece, _ in pieces), default=1)
    line = Image.new("L", (max(8, width), height), 255)
    for piece, x in pieces:
        if x >= line.width:
            continue
        line.paste(piece.crop((0, 0, min(piece.width, width - x), piece.height)), (x, 0))
    return line


def image_bytes(image: Image.Image, kind: RasterKind) -> bytes:
    """A placed line as the printer's image command, flush left."""
    raster = to_raster(image)
    if kind == "star_raster":
        return star_raster.raster_lines(raster)
    if kind == "star_x":
        return star_line.align("left") + star_line.bit_image(raster)
    return ESC_A_LEFT + (gs_v0(raster) if kind == "gs_v0" else esc_star(raster))
