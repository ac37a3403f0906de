"""Star Line Mode commands as Star's specification gives their bytes, and read back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.escpos import star_line
from shared.escpos.raster import Raster
from shared.escpos.star_tokens import StarParseError, names, tokenize


def test_each_command_has_the_bytes_of_the_specification() -> None:
    assert star_line.initialize() == b"\x1b@"
    assert star_line.emphasis(True) == b"\x1bE" and star_line.emphasis(False) == b"\x1bF"
    assert star_line.underline(True) == b"\x1b-\x01" and star_line.underline(False) == b"\x1b-\x00"
    assert star_line.expansion(width=2, height=3) == b"\x1bi\x02\x01"  # n1 height, n2 width
    assert star_line.expansion(width=9, height=0) == b"\x1bi\x00\x05"  # 1x to 6x only
    assert star_line.align("center") == b"\x1b\x1da\x01"
    assert star_line.align("right") == b"\x1b\x1da\x02"
    assert star_line.code_page(32) == b"\x1b\x1dt\x20"
    assert star_line.feed_lines(3) == b"\x1ba\x03"  # ESC a n feeds in Star Line Mode
    assert star_line.cut() == b"\x1bd\x02" and star_line.cut(partial=True) == b"\x1bd\x03"


def test_qr_code_sets_model_error_cell_then_stores_and_prints() -> None:
    data = star_line.qr_code(b"order-42", cell=12, error="M")
    assert data == (
        b"\x1b\x1dyS0\x02"  # model 2
        b"\x1b\x1dyS1\x01"  # error correction M
        b"\x1b\x1dyS2\x08"  # cell size, at most 8
        b"\x1b\x1dyD1\x00\x08\x00order-42"  # store: m = 0, nL nH, data
        b"\x1b\x1dyP"  # print
    )
    with pytest.raises(ValueError, match="1 to 7089 bytes"):
        star_line.qr_code(b"", cell=4)


def test_a_bit_image_is_24_dot_bands_with_touching_lines() -> None:
    raster = Raster(8, 30, bytes([0x80] * 30))  # the left column black, 30 rows
    data = star_line.bit_image(raster)
    assert data.startswith(b"\x1b0") and data.endswith(b"\x1bz\x01")
    tokens, _ = tokenize(data)
    bands = [t for t in tokens if t.name == "bit_image"]
    assert [t.args[0] for t in bands] == [8, 8]  # two bands of eight columns
    assert bands[0].payload[:3] == b"\xff\xff\xff"  # column 0: 24 dots
    assert bands[1].payload[:3] == b"\xfc\x00\x00"  # the last six rows


def test_tokens_skip_image_and_qr_payloads() -> None:
    raster = Raster(8, 24, bytes([0x05] * 24))  # payload full of ENQ-looking bytes
    data = star_line.bit_image(raster) + star_line.qr_code(b"\x04\x05\x1bd\x02", 4)
    assert "enq" not in names(data) and "cut" not in names(data)
    assert names(b"\x1b@Hi\n\x1dV\x00") == [
        "initialize",
        "text",
        "line_feed",
        "control",  # GS: an ESC/POS command means nothing to a Star printer
        "text",
        "control",
    ]


def test_a_command_cut_short_waits_or_fails() -> None:
    data = star_line.qr_code(b"abc", 4)
    tokens, used = tokenize(data[:-2], final=False)
    assert used < len(data) - 2 and tokens[-1].name == "qr_store"
    with pytest.raises(StarParseError):
        tokenize(data[:-2])


@given(st.binary(max_size=300))
def test_any_bytes_tokenize_without_losing_any(data: bytes) -> None:
    tokens, used = tokenize(data, final=False)
    assert b"".join(data[t.start : t.end] for t in tokens) == data[:used]
    assert len(data) - used < 300
