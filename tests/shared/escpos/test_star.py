"""The Star ASB and ENQ parsers, bit by bit, from Star's Line Mode / StarPRNT specifications.

Expected values are written from the specification's tables (appendix "Status
specifications"), not from our simulator: header 1 ``0xx0xxx1`` with the length in bits 1-3
and 5, header 2 the version, then printer status 1-7, and the one-byte ENQ status.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.escpos.star import (
    ASB_REQUEST,
    ENQ_QUERY,
    AsbFramer,
    asb_length,
    asb_packet,
    enable_asb,
    etb_counter,
    is_asb_header,
    is_enq_reply,
    length_header,
    parse_asb,
    parse_enq,
    valid_asb,
)
from shared.printers import PrinterState

#: A quiet 9-byte ASB, version 3, as a TSP100-class printer sends it: 23 06 00 00 00 00 00 00 00.
QUIET = bytes.fromhex("23 06 00 00 00 00 00 00 00")


def asb(index: int, value: int, length: int = 9) -> bytes:
    """A quiet ASB with byte ``index`` (0-based, 2 = printer status 1) set to ``value``."""
    packet = bytearray(QUIET[:length])
    packet[0] = length_header(length)
    packet[index] = value
    return bytes(packet)


def test_commands_are_the_specified_bytes() -> None:
    assert ASB_REQUEST == b"\x1b\x06\x01"  # ESC ACK SOH
    assert ENQ_QUERY == b"\x05"
    assert enable_asb() == b"\x1b\x1ea\x01"  # ESC RS a 1: ASB valid
    assert enable_asb(False) == b"\x1b\x1ea\x00"


@pytest.mark.parametrize(
    ("header", "length"),
    [(0x0F, 7), (0x23, 9), (0x09, 4), (0x0B, 5), (0x0D, 6), (0x21, 8), (0x2F, 15)],
)
def test_header1_length_from_bits_1_to_3_and_5(header: int, length: int) -> None:
    assert asb_length(header) == length
    assert length_header(length) == header
    assert is_asb_header(header)


@pytest.mark.parametrize("value", [0x11, 0x13, 0x10, 0x12, 0x8F, 0x1F, 0x0E, 0x03, 0x05, 0x07])
def test_not_a_header1(value: int) -> None:
    # XON, XOFF, EOT replies (bit 4), bit 7 set, bit 0 clear, lengths under 4
    assert not is_asb_header(value)


def test_quiet_asb_is_online() -> None:
    status = parse_asb(QUIET)
    assert status.state is PrinterState.ONLINE and status.online is True
    assert status.detail is None and status.ready


# (byte index, bit, field that must become true, summary state)
STATUS_BITS = [
    (2, 0x20, "cover_open", PrinterState.COVER_OPEN),
    (2, 0x08, None, PrinterState.OFFLINE),
    (2, 0x40, None, PrinterState.OFFLINE),  # offline by switch input
    (2, 0x04, "drawer_open", PrinterState.ONLINE),  # compulsion switch closed
    (2, 0x02, None, PrinterState.ONLINE),  # ETB executed: no condition
    (3, 0x04, "recoverable_error", PrinterState.ERROR),  # mechanical error
    (3, 0x08, "autocutter_error", PrinterState.ERROR),
    (3, 0x20, "unrecoverable_error", PrinterState.ERROR),
    (3, 0x40, None, PrinterState.OFFLINE),  # stopped by high head temperature
    (4, 0x02, "recoverable_error", PrinterState.ERROR),  # head up
    (4, 0x04, "recoverable_error", PrinterState.ERROR),  # presenter paper jam
    (4, 0x08, None, PrinterState.ERROR),  # black mark error
    (4, 0x20, None, PrinterState.ONLINE),  # command error: reported, not blocking
    (4, 0x40, None, PrinterState.ONLINE),  # receive buffer overflow
    (5, 0x08, "paper_out", PrinterState.PAPER_OUT),
    (5, 0x04, "paper_near_end", PrinterState.PAPER_NEAR_END),  # inner sensor
    (5, 0x02, "paper_near_end", PrinterState.PAPER_NEAR_END),  # outer sensor
]


@pytest.mark.parametrize(("index", "bit", "field", "state"), STATUS_BITS)
def test_every_status_bit(index: int, bit: int, field: str | None, state: PrinterState) -> None:
    status = parse_asb(asb(index, bit))
    assert status.state is state
    if field is not None:
        assert getattr(status, field) is True
    others = {"cover_open", "paper_out", "paper_near_end", "drawer_open", "autocutter_error"}
    assert not any(getattr(status, name) for name in others - {field})


@pytest.mark.parametrize(
    ("index", "bit", "words"),
    [
        (3, 0x40, "stopped by high head temperature"),
        (4, 0x20, "command error"),
        (4, 0x40, "receive buffer overflow"),
        (4, 0x08, "black mark error"),
        (4, 0x02, "head up"),
    ],
)
def test_conditions_without_a_field_are_in_the_detail(index: int, bit: int, words: str) -> None:
    assert words in (parse_asb(asb(index, bit)).detail or "")


@pytest.mark.parametrize("index", [6, 7, 8])
@pytest.mark.parametrize("bit", [0x02, 0x04, 0x08, 0x20, 0x40])
def test_status_5_to_7_never_change_the_state(index: int, bit: int) -> None:
    # slip sensors, the ETB counter and the presenter position say nothing about printing
    assert parse_asb(asb(index, bit)).state is PrinterState.ONLINE


def test_paper_out_with_cover_open_is_cover_open_first() -> None:
    packet = asb_packet(0x28, 0, 0, 0x0C)  # offline + cover open; paper end + near end
    status = parse_asb(packet)
    assert status.state is PrinterState.COVER_OPEN
    assert status.cover_open and status.paper_out and status.online is False


def test_seven_byte_asb_version_1() -> None:
    packet = asb_packet(0, 0, 0, 0x08, length=7, version=1)
    assert packet[:2] == b"\x0f\x02"
    assert parse_asb(packet).paper_out


def test_a_four_byte_asb_reports_what_it_holds() -> None:
    packet = bytes((length_header(4), 0x02, 0x20, 0x00))
    status = parse_asb(packet)
    assert status.state is PrinterState.COVER_OPEN and not status.paper_out


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        bytes.fromhex("23 06 00 00"),  # shorter than its header says
        bytes.fromhex("23 06 01 00 00 00 00 00 00"),  # bit 0 of a body byte set
        bytes.fromhex("23 06 10 00 00 00 00 00 00"),  # bit 4 set
        bytes.fromhex("23 06 00 80 00 00 00 00 00"),  # bit 7 set
        bytes.fromhex("12 06 00 00 00 00 00 00 00"),  # an ESC/POS status byte, not a header
    ],
)
def test_invalid_packets_are_refused(packet: bytes) -> None:
    assert not valid_asb(packet)
    with pytest.raises(ValueError, match="not an ASB"):
        parse_asb(packet)


def test_checked_at_is_kept() -> None:
    when = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_asb(QUIET, checked_at=when).checked_at == when
    assert parse_enq(0x20, checked_at=when).checked_at == when


@pytest.mark.parametrize(
    ("value", "counter"), [(0x00, 0), (0x02, 1), (0x04, 2), (0x08, 4), (0x20, 8), (0x40, 16)]
)
def test_etb_counter_bits(value: int, counter: int) -> None:
    assert etb_counter(value) == counter
    assert etb_counter(0x6E) == 31


# --- the framer -------------------------------------------------------------------------------


def test_framer_joins_a_packet_split_across_reads() -> None:
    framer = AsbFramer()
    assert framer.feed(QUIET[:3]) == []
    assert framer.pending == 3
    assert framer.feed(QUIET[3:]) == [QUIET]
    assert framer.pending == 0


def test_framer_skips_noise_and_returns_every_packet() -> None:
    cover = asb(2, 0x28)
    framer = AsbFramer()
    assert framer.feed(b"\x11\x13\x10" + QUIET + b"\x13" + cover) == [QUIET, cover]


def test_framer_drops_a_false_header_and_resyncs() -> None:
    # 0x0F looks like a 7-byte header, but the byte after it has bit 4 set
    framer = AsbFramer()
    assert framer.feed(b"\x0f\x10" + QUIET) == [QUIET]


def test_framer_reads_the_lan_extension() -> None:
    # header 2 bit 7: a 2-byte big-endian length and that much status data follow
    extended = bytes((0x23, 0x86)) + bytes(7) + b"\x00\x03" + b"01:"
    framer = AsbFramer()
    assert framer.feed(extended[:10]) == []
    assert framer.feed(extended[10:]) == [extended]
    assert parse_asb(extended).state is PrinterState.ONLINE


# --- ENQ --------------------------------------------------------------------------------------

ENQ_BITS = [
    (0x08, PrinterState.PAPER_OUT, "paper_out"),
    (0x04, PrinterState.ERROR, "unrecoverable_error"),  # other errors: cover open or fatal
    (0x80, PrinterState.ONLINE, "drawer_open"),
    (0x20, PrinterState.ONLINE, None),  # receive buffer empty
    (0x40, PrinterState.ONLINE, None),  # buffer overflow
    (0x02, PrinterState.ONLINE, None),  # framing error (serial only)
    (0x01, PrinterState.ONLINE, None),  # parity error (serial only)
]


@pytest.mark.parametrize(("bit", "state", "field"), ENQ_BITS)
def test_every_enq_bit(bit: int, state: PrinterState, field: str | None) -> None:
    status = parse_enq(bit)
    assert status.state is state
    if field is not None:
        assert getattr(status, field) is True


def test_enq_other_error_says_it_cannot_tell_cover_from_error() -> None:
    assert "cover open or printer error" in (parse_enq(0x04).detail or "")


@pytest.mark.parametrize("value", [0x10, 0x11, 0x13, 0x1F, 0xFF, 0x100, -1])
def test_bit_4_set_is_not_an_enq_reply(value: int) -> None:
    assert not is_enq_reply(value)
    with pytest.raises(ValueError, match="not an ENQ reply"):
        parse_enq(value)


def test_asb_packet_refuses_fixed_bits() -> None:
    with pytest.raises(ValueError, match="fixed bits"):
        asb_packet(0x10)
    with pytest.raises(ValueError, match="4 to 15 bytes"):
        length_header(3)
