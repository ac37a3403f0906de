"""GS I replies, byte by byte, from Epson's ESC/POS reference ("Transmit printer ID")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.escpos.identity import (
    IdentityParser,
    IdKind,
    PrinterIdentity,
    identity_from_replies,
    identity_query,
    info_b_reply,
    is_id_byte,
    parse_reply,
)
from shared.escpos.status import is_status_byte


def test_queries_are_gs_i_n() -> None:
    assert identity_query(IdKind.MODEL) == b"\x1dIC"  # n = 67, 'C'
    assert identity_query(IdKind.SERIAL) == b"\x1dID"
    assert identity_query(IdKind.TYPE_ID) == b"\x1dI\x02"
    assert identity_query(49) == b"\x1dI1"
    with pytest.raises(ValueError, match="GS I 70"):
        identity_query(70)


def test_printer_information_b_is_header_text_nul() -> None:
    # Epson: "_" (5FH), the information, NUL. A TM-T20III answers its model name so.
    assert parse_reply(IdKind.MODEL, b"_TM-T20III\x00") == "TM-T20III"
    assert parse_reply(IdKind.MAKER, b"_EPSON\x00") == "EPSON"
    assert parse_reply(IdKind.SERIAL, b"_X4V8012345\x00") == "X4V8012345"
    assert parse_reply(IdKind.FIRMWARE, b"_1.28\x00") == "1.28"
    # Font of language (n = 69), e.g. a Simplified Chinese model.
    assert parse_reply(IdKind.LANGUAGE_FONT, b"_CHINA GB18030\x00") == "CHINA GB18030"


def test_header_and_nul_alone_mean_the_printer_cannot_tell() -> None:
    parser = IdentityParser(IdKind.LANGUAGE_FONT)
    assert parser.feed(b"_\x00") == b""
    assert parser.done and parser.value is None


def test_an_unfinished_reply_is_no_reply() -> None:
    parser = IdentityParser(IdKind.MODEL)
    parser.feed(b"_TM-T2")
    assert not parser.done
    assert parse_reply(IdKind.MODEL, b"_TM-T2") is None


def test_reply_split_across_reads_and_bytes_after_it_are_handed_back() -> None:
    parser = IdentityParser(IdKind.MODEL)
    for piece in (b"_TM", b"-T88", b"V"):
        assert parser.feed(piece) == b""
        assert not parser.done
    assert parser.feed(b"\x00\x12") == b"\x12"  # a status byte that came after it
    assert parser.value == "TM-T88V"


def test_status_bytes_and_asb_before_the_header_are_skipped() -> None:
    # A late DLE EOT reply (0x12) and a 4-byte ASB packet (first byte 0x14) came first.
    noise = b"\x12\x14\x00\x00\x0f"
    assert parse_reply(IdKind.SERIAL, noise + b"_X4V8012345\x00") == "X4V8012345"


def test_text_longer_than_epson_allows_ends_the_parse_without_a_value() -> None:
    parser = IdentityParser(IdKind.MODEL)
    parser.feed(b"_" + b"A" * 81)
    assert parser.done and parser.value is None


def test_control_characters_in_text_are_dropped() -> None:
    assert parse_reply(IdKind.MODEL, b"_TM-\x1bT20\x7fIII \x00") == "TM-T20III"


def test_one_byte_ids_have_bits_4_and_7_off() -> None:
    # "Printer ID is distinguished from other send data by bits 4 and 7" (0xx0xxxx).
    assert parse_reply(IdKind.MODEL_ID, b"\x20") == 0x20  # TM-T88 family, TM-T81
    assert parse_reply(IdKind.TYPE_ID, b"\x02") == 0x02
    # A DLE EOT status byte (0xx1xx10) arriving first is not the answer.
    assert parse_reply(IdKind.TYPE_ID, b"\x12\x03") == 0x03
    assert parse_reply(IdKind.MODEL_ID, b"\x90\x12") is None


@given(st.integers(0, 255))
def test_no_byte_is_both_an_id_and_a_status_reply(value: int) -> None:
    assert not (is_id_byte(value) and is_status_byte(value))


def test_the_header_is_never_a_status_byte() -> None:
    assert not is_status_byte(0x5F)


def test_type_id_bits() -> None:
    # Bit 0 multi-byte characters, bit 1 autocutter, bit 2 customer display (DM-D).
    cutter = PrinterIdentity(type_id=0x02)
    assert (cutter.autocutter, cutter.multi_byte) == (True, False)
    kanji = PrinterIdentity(type_id=0x01)
    assert (kanji.autocutter, kanji.multi_byte) == (False, True)
    assert PrinterIdentity().autocutter is None


def test_identity_from_a_tm_t20iii_session() -> None:
    identity = identity_from_replies(
        {
            IdKind.MODEL: b"_TM-T20III\x00",
            IdKind.MAKER: b"_EPSON\x00",
            IdKind.SERIAL: b"_X4V8012345\x00",
            IdKind.FIRMWARE: b"_10.02 ESC/POS\x00",
            IdKind.TYPE_ID: b"\x02",
            IdKind.MODEL_ID: b"\x20",
            IdKind.VERSION_ID: b"",  # the TM-T20III does not answer n = 3
        }
    )
    assert identity == PrinterIdentity(
        model="TM-T20III",
        manufacturer="EPSON",
        serial="X4V8012345",
        firmware="10.02 ESC/POS",
        model_id=0x20,
        type_id=0x02,
    )
    assert identity.answered and not PrinterIdentity().answered


def test_an_answer_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(TypeError):
        PrinterIdentity().with_answer(IdKind.MODEL, 0x20)


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80))
def test_what_a_printer_sends_parses_back(text: str) -> None:
    assert parse_reply(IdKind.MODEL, info_b_reply(text)) == (text or None)
