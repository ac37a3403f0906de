"""Compare printed images with the stored references in tests/agent/golden/.

Set CHIT_UPDATE_GOLDEN=1 to write the references anew (then look at them before committing).
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, ImageChops

from shared.escpos.raster import Raster, decode_gs_v0, find_gs_v0

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CHIT_UPDATE_GOLDEN") == "1"
#: Dots that may differ: 1 % of the reference's ink (font rasteriser versions differ slightly).
INK_TOLERANCE = 0.01


def as_image(raster: Raster) -> Image.Image:
    """A raster as a Pillow 1-bit image (black = printed)."""
    return Image.frombytes("1", (raster.width, raster.height), bytes(b ^ 0xFF for b in raster.data))


def printed_images(data: bytes) -> list[Image.Image]:
    """Every GS v 0 image in ``data``, consecutive bands joined."""
    images, at = [], 0
    for offset in find_gs_v0(data):
        if offset < at:
            continue
        raster, at = decode_gs_v0(data, offset)
        images.append(as_image(raster))
    return images


def without_images(data: bytes) -> bytes:
    """``data`` with its GS v 0 commands (and their image bytes) taken out."""
    out, at = bytearray(), 0
    for offset in find_gs_v0(data):
        if offset < at:
            continue
        out += data[at:offset]
        _, at = decode_gs_v0(data, offset)
    return bytes(out + data[at:])


def ink(image: Image.Image) -> int:
    """How many dots print."""
    return sum(1 for v in image.convert("L").get_flattened_data() if v < 128)


def assert_matches(image: Image.Image, name: str) -> None:
    """``image`` equals golden/``name`` but for a few dots."""
    path = GOLDEN / name
    if UPDATE or not path.exists():
        if not UPDATE:
            raise AssertionError(f"no reference {path}; run with CHIT_UPDATE_GOLDEN=1")
        image.save(path)
    reference = Image.open(path).convert("1")
    assert image.size == reference.size, f"{name}: {image.size} != {reference.size}"
    xor = ImageChops.logical_xor(image.convert("1"), reference)
    differing = sum(1 for v in xor.convert("L").get_flattened_data() if v)
    allowed = max(4, int(ink(reference) * INK_TOLERANCE))
    assert differing <= allowed, f"{name}: {differing} dots differ (at most {allowed})"


def assert_golden_bytes(data: bytes, name: str) -> None:
    """``data`` equals golden/``name`` byte for byte."""
    path = GOLDEN / name
    if UPDATE:
        path.write_bytes(data)
    expected = path.read_bytes()
    at = next((i for i, (a, b) in enumerate(zip(data, expected, strict=False)) if a != b), None)
    assert data == expected, (
        f"{name}: first difference at byte {at} ({len(data)} vs {len(expected)})"
    )
