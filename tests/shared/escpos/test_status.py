"""DLE EOT status replies, bit by bit, against the Epson ESC/POS command reference."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.escpos.status import (
    ALL_STATUS_QUERIES,
    StatusKind,
    is_status_byte,
    parse_status,
    status_byte,
    status_queries,
    status_query,
    valid_reply,
)
from shared.printers import PrinterState

OK = 0x12  # a reply with no condition set: only the fixed bits 1 and 4
CLEAN = (OK, OK, OK, OK)

# Every meaningful bit of every reply: (kind, bit, the status fields it sets, summary state).
BIT_TABLE = [
    (1, 2, {"drawer_open": True}, PrinterState.ONLINE),
    (1, 3, {"online": False}, PrinterState.OFFLINE),
    (1, 5, {}, PrinterState.ONLINE),  # waiting for online recovery: detail only
    (1, 6, {"feed_button_pressed": True}, PrinterState.ONLINE),
    (2, 2, {"cover_open": True}, PrinterState.COVER_OPEN),
    (2, 3, {"feed_button_pressed": True}, PrinterState.ONLINE),
    (2, 5, {"paper_out": True}, PrinterState.PAPER_OUT),
    (2, 6, {}, PrinterState.ERROR),
    (3, 2, {"recoverable_error": True}, PrinterState.ERROR),
    (3, 3, {"recoverable_error": True, "autocutter_error": True}, PrinterState.ERROR),
    (3, 5, {"unrecoverable_error": True}, PrinterState.ERROR),
    (3, 6, {"recoverable_error": True}, PrinterState.ERROR),
    (4, 2, {"paper_near_end": True}, PrinterState.PAPER_NEAR_END),
    (4, 3, {"paper_near_end": True}, PrinterState.PAPER_NEAR_END),
    (4, 5, {"paper_out": True}, PrinterState.PAPER_OUT),
    (4, 6, {"paper_out": True}, PrinterState.PAPER_OUT),
]

FLAG_FIELDS = (
    "cover_open",
    "paper_near_end",
    "paper_out",
    "feed_button_pressed",
    "drawer_open",
    "recoverable_error",
    "unrecoverable_error",
    "autocutter_error",
)


def with_bit(kind: int, bit: int) -> list[int | None]:
    """The clean replies with one bit set in the reply to ``DLE EOT kind``."""
    replies: list[int | None] = list(CLEAN)
    replies[kind - 1] = OK | (1 << bit)
    return replies


def test_queries_are_dle_eot_n() -> None:
    assert status_query(StatusKind.PRINTER) == b"\x10\x04\x01"
    assert status_query(4) == b"\x10\x04\x04"
    assert (
        status_queries()
        == ALL_STATUS_QUERIES
        == b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"
    )


@pytest.mark.parametrize("n", [0, 5, 0x10])
def test_query_kind_out_of_range_is_refused(n: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - IntEnum's own message
        status_query(n)


def test_clean_replies_are_online() -> None:
    status = parse_status(*CLEAN)
    assert status.state is PrinterState.ONLINE
    assert status.online is True
    assert status.ready
    assert status.detail is None
    assert not any(getattr(status, name) for name in FLAG_FIELDS)


@pytest.mark.parametrize(("kind", "bit", "fields", "state"), BIT_TABLE)
def test_each_bit(kind: int, bit: int, fields: dict[str, bool], state: PrinterState) -> None:
    status = parse_status(*with_bit(kind, bit))
    assert status.state is state
    assert status.online is fields.get("online", True)
    for name in FLAG_FIELDS:
        assert getattr(status, name) is fields.get(name, False), name


@pytest.mark.parametrize(("kind", "bit"), [(k, b) for k, b, _, _ in BIT_TABLE])
def test_each_bit_is_named_in_detail(kind: int, bit: int) -> None:
    status = parse_status(*with_bit(kind, bit))
    if (kind, bit) == (1, 2):
        assert status.detail is None  # the drawer is not a printer condition
    else:
        assert status.detail


@pytest.mark.parametrize("bit", [0, 1, 4, 7])
@pytest.mark.parametrize("kind", [1, 2, 3, 4])
def test_flipped_fixed_bit_is_not_a_reply(kind: int, bit: int) -> None:
    replies: list[int | None] = list(CLEAN)
    replies[kind - 1] = OK ^ (1 << bit)
    status = parse_status(*replies)
    if kind == 1:
        assert status.state is PrinterState.UNKNOWN
        assert status.online is None
    else:
        assert status.state is PrinterState.ONLINE
        assert f"no reply to DLE EOT {kind}" in (status.detail or "")


@pytest.mark.parametrize(
    "garbage", [0x00, 0xFF, 0x41, 0x80, 0x13, 0x10, 0x02, b"", b"\x12\x12", 256, -1]
)
def test_garbage_first_byte_is_unknown_never_online(garbage: int | bytes) -> None:
    status = parse_status(garbage, OK, OK, OK)
    assert status.state is PrinterState.UNKNOWN
    assert status.online is None
    assert not status.ready


def test_no_reply_at_all_is_unknown() -> None:
    status = parse_status(None, None, None, None)
    assert status.state is PrinterState.UNKNOWN
    assert status.online is None
    assert status.detail == "no reply from printer"


def test_no_reply_to_printer_status_wins_over_everything() -> None:
    status = parse_status(None, OK | 0x04, OK | 0x20, OK | 0x60)
    assert status.state is PrinterState.UNKNOWN
    assert status.cover_open  # the other replies are still reported


def test_only_printer_status_answered() -> None:
    status = parse_status(OK)
    assert status.state is PrinterState.ONLINE
    assert status.detail == "no reply to DLE EOT 2; no reply to DLE EOT 3; no reply to DLE EOT 4"


def test_bytes_replies_are_accepted() -> None:
    assert parse_status(b"\x12", b"\x16", b"\x12", b"\x12").state is PrinterState.COVER_OPEN


def test_all_bits_at_once_fit_in_detail() -> None:
    status = parse_status(0x7E, 0x7E, 0x7E, 0x7E)
    assert status.state is PrinterState.ERROR
    assert status.detail is not None
    assert len(status.detail) <= 200


# Two conditions at once: the summary is the worse one.
PRIORITY_CASES = [
    ((OK | 0x08, OK | 0x44, OK | 0x08, OK), PrinterState.ERROR),  # error beats cover open
    ((OK | 0x08, OK | 0x24, OK, OK | 0x6C), PrinterState.COVER_OPEN),  # cover beats paper out
    ((OK | 0x08, OK | 0x20, OK, OK | 0x6C), PrinterState.PAPER_OUT),  # paper out beats offline
    ((OK | 0x08, OK, OK, OK | 0x0C), PrinterState.OFFLINE),  # offline beats near end
    ((OK, OK, OK, OK | 0x0C), PrinterState.PAPER_NEAR_END),
]


@pytest.mark.parametrize(("replies", "state"), PRIORITY_CASES)
def test_state_priority(replies: tuple[int, int, int, int], state: PrinterState) -> None:
    assert parse_status(*replies).state is state


def test_real_epson_paper_out_replies() -> None:
    # What a TM-T88 answers with no paper: offline, stopped by paper end, both sensors.
    status = parse_status(0x1E, 0x32, 0x12, 0x7E)
    assert status.state is PrinterState.PAPER_OUT
    assert status.paper_out
    assert status.paper_near_end
    assert status.online is False


def test_checked_at_is_kept() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_status(OK, checked_at=now).checked_at == now


@pytest.mark.parametrize("value", range(256))
def test_is_status_byte_matches_fixed_pattern(value: int) -> None:
    expected = (value & 0b1001_0011) == 0b0001_0010
    assert is_status_byte(value) is expected
    assert (valid_reply(value) == value) is expected


def test_status_byte_builds_valid_replies() -> None:
    assert status_byte() == OK
    assert status_byte(0x6C) == 0x7E
    assert is_status_byte(status_byte(0x08))


@pytest.mark.parametrize("flags", [0x01, 0x02, 0x10, 0x80, 0x100])
def test_status_byte_refuses_fixed_bits(flags: int) -> None:
    with pytest.raises(ValueError, match="fixed bits"):
        status_byte(flags)
