"""GS v 0 and ESC * encoding of 1-bit images, checked byte by byte against Epson's layout."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.escpos.raster import (
    Raster,
    RasterError,
    decode_esc_star,
    decode_gs_v0,
    esc_star,
    find_gs_v0,
    gs_v0,
)


def checker(width: int, height: int) -> Raster:
    """A checkerboard: dot (x, y) prints when x + y is even."""
    rows = bytearray()
    for y in range(height):
        bits = [(x + y) % 2 == 0 for x in range(width)] + [False] * (-width % 8)
        rows += bytes(
            sum(0x80 >> i for i, on in enumerate(bits[k : k + 8]) if on)
            for k in range(0, len(bits), 8)
        )
    return Raster(width, height, bytes(rows))


def test_gs_v0_header_is_epsons() -> None:
    raster = Raster(16, 2, b"\xff\x00\x0f\xf0")
    # GS v 0 m xL xH yL yH: m = 0 normal, x = 2 bytes per row, y = 2 rows, then the rows
    assert gs_v0(raster) == b"\x1dv0\x00\x02\x00\x02\x00\xff\x00\x0f\xf0"


def test_gs_v0_is_sent_in_bands() -> None:
    raster = checker(24, 600)
    data = gs_v0(raster, band_rows=256)
    assert find_gs_v0(data) == [0, 8 + 3 * 256, 2 * (8 + 3 * 256)]
    assert data[6:8] == bytes((0, 1))  # 256 rows in the first band
    assert data[2 * (8 + 3 * 256) + 6] == 600 - 512
    decoded, end = decode_gs_v0(data)
    assert decoded == raster
    assert end == len(data)


def test_esc_star_is_24_dot_columns_with_line_spacing() -> None:
    raster = Raster(8, 2, b"\x80\x01")  # top-left and second-row right dot
    data = esc_star(raster)
    assert data.startswith(b"\x1b3\x18\x1b*\x21\x08\x00")  # ESC 3 24; ESC * 33 nL nH
    column0, column7 = data[8:11], data[8 + 7 * 3 : 8 + 7 * 3 + 3]
    assert column0 == b"\x80\x00\x00"  # top dot is the MSB of the first byte
    assert column7 == b"\x40\x00\x00"  # second row
    assert data.endswith(b"\n\x1b2")  # LF after the band, default line spacing after
    decoded, _ = decode_esc_star(data)
    assert decoded.row(0) == b"\x80"
    assert decoded.row(1) == b"\x01"
    assert decoded.height == 24


@given(st.integers(1, 80), st.integers(1, 70))
def test_round_trips(width: int, height: int) -> None:
    raster = checker(width, height)
    assert decode_gs_v0(gs_v0(raster, band_rows=32))[0].data == raster.data
    star, _ = decode_esc_star(esc_star(raster))
    for y in range(height):
        assert all(star.dot(x, y) == raster.dot(x, y) for x in range(width))


def test_bad_input_is_refused() -> None:
    with pytest.raises(RasterError):
        Raster(8, 2, b"\x00")
    with pytest.raises(RasterError):
        decode_gs_v0(b"\x1dv0\x00\x02\x00\x05\x00\x00")  # says 10 bytes, has 1
    with pytest.raises(RasterError):
        decode_esc_star(b"hello")
