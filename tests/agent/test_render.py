"""Rendering the test page and receipt documents to ESC/POS bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.render import DEFAULT_PROFILE, profile_name, render_document, render_test_page
from agent.simulators.brain import PrinterBrain
from shared.documents import ReceiptDocument
from shared.printers import Connection, DiscoverySource, PrinterInfo

CORRELATION_ID = "7f3c2a9e-1b4d-4e8f-9a6b-0c1d2e3f4a5b"
QR_STORE = b"\x1d(k"  # GS ( k: native 2D code commands
FULL_CUT = b"\x1dV\x00"


def printer(profile: str | None = None) -> PrinterInfo:
    return PrinterInfo(
        printer_id="usb:04b8:0e15:SN1",
        name="Kitchen TM-T20II",
        connection=Connection.USB,
        source=DiscoverySource.USB,
        profile=profile,
    )


def page(profile: str | None = None) -> bytes:
    return render_test_page(
        correlation_id=CORRELATION_ID,
        agent_id="agent-7",
        hostname="till-2",
        printer=printer(profile),
        now=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    )


def test_test_page_carries_everything_as_plain_text() -> None:
    data = page()
    for text in (
        CORRELATION_ID,
        "CHIT TEST PAGE",
        "agent-7",
        "till-2",
        "Kitchen TM-T20II",
        "usb:04b8:0e15:SN1",
        "2024-05-01 12:30:00 UTC",
    ):
        assert text.encode("ascii") in data, text


def test_test_page_has_a_native_qr_of_the_correlation_id_and_a_cut() -> None:
    data = page("TM-T88III")
    assert data.startswith(b"\x1b@")  # ESC @ first: a known state
    assert QR_STORE + bytes([len(CORRELATION_ID) + 3, 0]) + b"1P0" + CORRELATION_ID.encode() in data
    assert data.endswith(FULL_CUT)


def test_printer_without_native_qr_gets_an_image() -> None:
    data = page("POS-5890")
    assert QR_STORE not in data
    assert b"\x1dv0" in data  # GS v 0: raster image
    assert CORRELATION_ID.encode() in data


def test_test_page_prints_once_on_a_simulator() -> None:
    brain = PrinterBrain()
    brain.receive(page())
    assert brain.count_jobs_containing(CORRELATION_ID) == 1


def test_unknown_profile_falls_back() -> None:
    assert profile_name("No Such Printer") == DEFAULT_PROFILE
    assert profile_name(None) == DEFAULT_PROFILE
    assert profile_name("TM-T20II") == "TM-T20II"
    assert CORRELATION_ID.encode() in page("No Such Printer")


def doc(*lines: dict[str, object], cut: bool = True) -> ReceiptDocument:
    return ReceiptDocument.model_validate({"lines": list(lines), "cut": cut})


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ({"type": "text", "text": "B", "bold": True}, b"\x1bE\x01"),
        ({"type": "text", "text": "U", "underline": True}, b"\x1b-\x01"),
        ({"type": "text", "text": "C", "align": "center"}, b"\x1ba\x01"),
        ({"type": "text", "text": "R", "align": "right"}, b"\x1ba\x02"),
        ({"type": "text", "text": "W", "width": 2, "height": 3}, b"\x1d!\x12"),
        ({"type": "feed", "lines": 3}, b"\n\n\n"),
        ({"type": "cut", "partial": True}, b"\x1dV\x01"),
        ({"type": "qr", "data": "hello"}, QR_STORE),
    ],
)
def test_document_lines(line: dict[str, object], command: bytes) -> None:
    assert command in render_document(doc(line), profile="TM-T88III")


def test_document_text_and_final_cut() -> None:
    data = render_document(doc({"type": "text", "text": "Table 4: 2x soup"}))
    assert b"Table 4: 2x soup\n" in data
    assert data.endswith(FULL_CUT)


def test_document_without_cut() -> None:
    assert FULL_CUT not in render_document(doc({"type": "text", "text": "x"}, cut=False))


def test_printer_without_cutter_gets_no_cut() -> None:
    assert b"\x1dV" not in render_document(doc({"type": "text", "text": "x"}), profile="POS-5890")
