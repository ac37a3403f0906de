"""Star's ``ESC # * LF NUL`` reply, byte by byte (Star Line Mode Command Specifications,
"Inquire printer version": ``ESC # * , printer version LF NUL``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.escpos.identity import PrinterIdentity
from shared.escpos.star import asb_packet, length_header
from shared.escpos.star_identity import (
    MAX_REPLY_BYTES,
    MAX_VERSION_TEXT,
    VERSION_REQUEST,
    StarVersion,
    StarVersionParser,
    parse_version_reply,
    split_version,
    star_identity,
    version_reply,
)

TSP143 = StarVersion("TSP143IIIL Ver1.2", "TSP143IIIL", "1.2")
#: A 9-byte ASB (header 1 0x23, "#") and a 7-byte one (0x0F) with cover open (status 1 0x20).
ASB9, ASB7 = asb_packet(0x28), asb_packet(0x20, length=7)
#: A LAN ASB: header 2 bit 7 set, a 2-byte length, that many bytes of further status data
#: (here bytes that look like the reply header and text).
ASB_LAN = bytes((length_header(9), 0x86, 0, 0, 0, 0, 0, 0, 0, 0, 6)) + b"\x1b#*,X\n"


def test_the_request_and_reply_bytes() -> None:
    assert bytes((0x1B, 0x23, 0x2A, 0x0A, 0x00)) == VERSION_REQUEST
    assert version_reply("TSP654 Ver2.1") == b"\x1b#*,TSP654 Ver2.1\n\x00"
    assert ASB9[0] == ord("#") and ASB7[0] == 0x0F


@pytest.mark.parametrize(
    ("text", "model", "firmware"),
    [
        ("TSP143IIIL Ver1.2", "TSP143IIIL", "1.2"),
        ("TSP654 Ver2.1", "TSP654", "2.1"),
        ("HSP7000 Ver. 1.0", "HSP7000", "1.0"),  # Star's own example
        ("POP10Ver1.0", "POP10", "1.0"),  # no space before "Ver"
        ("TSP100IV ver 3.0", "TSP100IV", "3.0"),
        ("  TSP654II  ", "TSP654II", None),  # no "Ver": all model
        ("Ver1.0", None, "1.0"),
        ("TSP100 Version", "TSP100 Version", None),  # "Ver" without a number is model text
    ],
)
def test_model_and_version_are_split(text: str, model: str | None, firmware: str | None) -> None:
    said = split_version(text)
    assert (said.model, said.firmware) == (model, firmware)


def test_a_whole_reply() -> None:
    assert parse_version_reply(version_reply("TSP143IIIL Ver1.2")) == TSP143


def test_asb_packets_before_the_reply_are_skipped() -> None:
    data = ASB9 + ASB7 + b"\x11" + ASB_LAN + version_reply("TSP143IIIL Ver1.2")
    assert parse_version_reply(data) == TSP143


@pytest.mark.parametrize("asb", [ASB9, ASB7])
def test_an_asb_inside_the_reply_is_skipped(asb: bytes) -> None:
    data = b"\x1b#*,TSP143" + asb + b"IIIL Ver1.2\n\x00"
    assert parse_version_reply(data) == TSP143


def test_the_reply_split_across_reads_and_what_follows_it() -> None:
    data = ASB9 + version_reply("TSP654 Ver2.1") + b"\x0f"
    parser = StarVersionParser()
    rest = b""
    rest = b"".join(parser.feed(data[i : i + 1]) for i in range(len(data)))
    assert parser.done and parser.value == StarVersion("TSP654 Ver2.1", "TSP654", "2.1")
    assert rest == b"\x0f"  # the next reader's (a status byte, say): the late NUL is the reply's
    assert parser.feed(b"more") == b"more"


def test_lf_alone_or_nul_alone_ends_the_reply() -> None:
    assert parse_version_reply(b"\x1b#*,TSP654\n") == StarVersion("TSP654", "TSP654", None)
    assert parse_version_reply(b"\x1b#*,TSP654\x00") == StarVersion("TSP654", "TSP654", None)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x1b#*",  # the header cut short
        b"\x1b#*,TSP143IIIL Ver1",  # the text cut short
        b"\x1b#*,TSP143" + ASB9[:4],  # an ASB inside it cut short
        b"TSP143IIIL Ver1.2\n\x00",  # no header: not this reply
        ASB9 + ASB7,
    ],
)
def test_truncated_replies_are_not_done(data: bytes) -> None:
    parser = StarVersionParser()
    parser.feed(data)
    assert not parser.done and parser.value is None


def test_an_empty_version_says_nothing() -> None:
    parser = StarVersionParser()
    assert parser.feed(b"\x1b#*,\n\x00") == b""
    assert parser.done and parser.value is None


def test_junk_control_bytes_in_the_text_are_dropped() -> None:
    assert parse_version_reply(b"\x1b#*,TSP\x01654\x7f Ver2.1\n\x00") == StarVersion(
        "TSP654 Ver2.1", "TSP654", "2.1"
    )


def test_bounds() -> None:
    long = StarVersionParser()
    long.feed(b"\x1b#*," + b"A" * (MAX_VERSION_TEXT + 1))
    assert long.done and long.value is None  # no LF in sight: not a version
    noise = StarVersionParser()
    noise.feed(b"\x1b" + b"x" * MAX_REPLY_BYTES)
    assert noise.done and noise.value is None
    assert version_reply("A" * 200) == b"\x1b#*," + b"A" * MAX_VERSION_TEXT + b"\n\x00"


@given(st.binary(max_size=64), st.binary(max_size=64))
def test_any_bytes_never_raise(head: bytes, tail: bytes) -> None:
    parser = StarVersionParser()
    parser.feed(head)
    parser.feed(tail)
    if parser.value is not None:
        assert parser.value.text and len(parser.value.text) <= MAX_VERSION_TEXT


def test_the_identity_it_gives() -> None:
    assert star_identity(TSP143) == PrinterIdentity(
        model="TSP143IIIL", firmware="1.2", manufacturer="Star Micronics"
    )
    assert star_identity(None) == PrinterIdentity()
    assert not star_identity(None).answered
