"""Star raster (Star Graphic mode) bytes: each command as the specification spells it (ASCII
decimal arguments, NUL-terminated), raster lines MSB-first, and read back command by command."""

from __future__ import annotations

import pytest

from shared.escpos import star_raster
from shared.escpos.raster import Raster
from shared.escpos.star_tokens import StarParseError


def test_each_command_is_the_specifications_bytes() -> None:
    assert star_raster.enter() == bytes.fromhex("1b2a7241")
    assert star_raster.quit_raster() == bytes.fromhex("1b2a7242")
    # n in ASCII decimal then NUL: page length 0 is "0" = 0x30, not a zero byte.
    assert star_raster.page_length(0) == bytes.fromhex("1b2a72503000")
    assert star_raster.eot_mode(13) == b"\x1b*rE13\x00"
    assert star_raster.ff_mode(9) == b"\x1b*rF9\x00"
    assert star_raster.form_feed() == bytes.fromhex("1b0c00")
    assert star_raster.cut() == b"\x1b*rF9\x00\x1b\x0c\x00"
    assert star_raster.cut(partial=True) == b"\x1b*rF13\x00\x1b\x0c\x00"
    assert star_raster.start() == b"\x1b*rA\x1b*rP0\x00\x1b*rE1\x00"


def test_moves_are_split_and_zero_is_nothing() -> None:
    assert star_raster.move(0) == b""
    assert star_raster.move(24) == b"\x1b*rY24\x00"
    assert star_raster.move(300) == b"\x1b*rY255\x00\x1b*rY45\x00"


def test_raster_lines_trim_white_and_move_over_white_rows() -> None:
    # 20 dots wide (3 bytes a row): a dot at the far left, a white row, a row ending in ink.
    raster = Raster(20, 4, bytes([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0, 0x10]))
    data = star_raster.raster_lines(raster)
    assert data == (
        b"b\x01\x00\x80"  # k = n1 + 256 n2 = 1: the rest of the row is white
        + b"\x1b*rY2\x00"  # two white rows
        + b"b\x03\x00\xff\x00\x10"
    )
    tokens = star_raster.tokenize(data, in_raster=True)[0]
    assert [t.name for t in tokens] == ["raster_line", "raster_move", "raster_line"]
    assert star_raster.line_raster(tokens[2], 20).row(0) == b"\xff\x00\x10"


def test_a_long_line_has_a_two_byte_length() -> None:
    raster = Raster(2400, 1, b"\x01" * 300)
    data = star_raster.raster_lines(raster)
    assert data[:3] == b"b" + (300).to_bytes(2, "little") and len(data) == 303


def test_tokenize_reads_line_mode_outside_and_raster_inside() -> None:
    data = b"Hello\x1bd\x02" + star_raster.start() + b"b\x02\x00\x05\x04" + b"\x05"
    data += star_raster.cut() + star_raster.quit_raster() + b"bye"
    names = star_raster.names(data)
    assert names == [
        *("text", "cut", "raster_enter", "raster_page_length", "raster_eot_mode"),
        # The ENQ and EOT bytes inside the raster line are its data; the ENQ after it a request.
        *("raster_line", "enq", "raster_ff_mode", "raster_form_feed", "raster_quit", "text"),
    ]


def test_tokenize_keeps_a_split_command_for_the_next_chunk() -> None:
    data = star_raster.start() + b"b\x04\x00\xff\xff"
    _, used, in_raster = star_raster.tokenize(data, final=False)
    assert used == len(star_raster.start()) and in_raster
    rest, _, still = star_raster.tokenize(data[used:] + b"\xff\xff", in_raster=in_raster)
    assert [t.name for t in rest] == ["raster_line"] and still
    # The start of ESC * r A at the end of Line Mode bytes waits too.
    _, used, in_raster = star_raster.tokenize(b"ab\x1b*r", final=False)
    assert used == 2 and not in_raster
    with pytest.raises(StarParseError):
        star_raster.tokenize(data)


def test_a_numeric_argument_must_be_ascii_digits() -> None:
    with pytest.raises(StarParseError, match="ASCII number"):
        star_raster.tokenize(b"\x1b*rA\x1b*rE\x09\x00")


def test_final_bytes_must_not_end_inside_a_command() -> None:
    with pytest.raises(StarParseError):
        star_raster.tokenize(b"ab\x1b*r")
    assert star_raster.names(b"ab") == ["text"]


def test_the_version_request_is_read_inside_and_outside_raster_mode() -> None:
    request = b"\x1b#*\n\x00"
    assert star_raster.names(request) == ["version_request"]
    inside = star_raster.tokenize(request + b"\x1b*rB", in_raster=True)[0]
    assert [t.name for t in inside] == ["version_request", "raster_quit"]


def test_a_five_byte_prefix_that_does_not_match_is_not_waited_for() -> None:
    # "ESC # * LF" then not NUL (and "ESC * r m" then neither "l" nor "r"): no command there,
    # so the stream goes on rather than waiting for bytes that are already here.
    for data in (b"\x1b#*\nx", b"\x1b*rmx"):
        tokens, used, _ = star_raster.tokenize(data, final=False, in_raster=True)
        assert used == len(data) and tokens[0].name == "raster_unknown"
