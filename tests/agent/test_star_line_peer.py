"""Our Star Line Mode output against an encoder we did not write.

@point-of-sale/receipt-printer-encoder (Niels Leenheer's, pinned in tests/peers/star_line and
installed there with ``npm ci``) encodes the same small document with ``language: 'star-line'``
in a node subprocess. Both outputs are cut into commands (shared.escpos.star_tokens) and read
as a Star printer would (agent.simulators.star_paper). They differ where both are valid: the
peer centres text with spaces where we send ``ESC GS a 1``, sends only style changes where we
set every style per line, cuts at the print position after feeding lines (``ESC d 1``) where we
let the printer feed to its cutter (``ESC d 3``). The commands for emphasis, underline, character
expansion, the QR code and its alignment must be the same bytes, and the receipt must read the same.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent.render import render_document
from agent.simulators.star_paper import PrintedLine, StarPaper, read_paper
from shared.documents import ReceiptDocument
from shared.escpos.star_tokens import tokenize
from tests.npm_peers import peer_bytes, peer_missing

COLUMNS = 48
DOCUMENT = ReceiptDocument.model_validate(
    {
        "lines": [
            {"type": "text", "text": "CHIT BISTRO", "bold": True, "align": "center"},
            {"type": "text", "text": "Table 4", "underline": True},
            {"type": "text", "text": "BIG", "width": 2, "height": 3},
            {"type": "qr", "data": "order-42", "size": 6, "align": "center"},
            {"type": "cut", "partial": True},
        ],
        "cut": False,
    }
)
PEER_CALLS: list[list[Any]] = [
    ["initialize"],
    ["align", "center"],
    ["bold", True],
    ["line", "CHIT BISTRO"],
    ["bold", False],
    ["align", "left"],
    ["underline", True],
    ["line", "Table 4"],
    ["underline", False],
    ["size", 2, 3],
    ["line", "BIG"],
    ["size", 1, 1],
    ["align", "center"],
    ["qrcode", "order-42", {"model": 2, "size": 6, "errorlevel": "l"}],
    ["align", "left"],
    ["cut", "partial"],
]


@pytest.fixture(scope="module")
def peer() -> None:
    if (reason := peer_missing("star_line", "@point-of-sale/receipt-printer-encoder")) is not None:
        pytest.skip(reason)


def peer_encode(calls: list[list[Any]]) -> bytes:
    """The peer's bytes for these encoder calls."""
    request = {"options": {"columns": COLUMNS}, "calls": calls}
    return peer_bytes("star_line", request)


def commands(data: bytes, *names: str) -> set[bytes]:
    """The distinct byte forms of the named commands in ``data``."""
    return {data[t.start : t.end] for t in tokenize(data)[0] if t.name in names}


Laid = tuple[str, bool, bool, str, int, int]


def as_laid_out(line: PrintedLine) -> Laid:
    """A line's text, emphasis, underline, where it sits (by command or by padding), size."""
    text, size = line.text.strip(), (line.width, line.height)
    if line.align != "left" or not line.text.startswith(" "):
        return text, line.bold, line.underline, line.align, *size
    lead = len(line.text) - len(line.text.lstrip())
    centred = abs(lead - (COLUMNS // line.width - len(text)) / 2) <= 1
    return text, line.bold, line.underline, "center" if centred else "right", *size


def visible(paper: StarPaper) -> list[Laid]:
    return [as_laid_out(line) for line in paper.lines if line.text.strip()]


def test_the_same_document_reads_the_same_and_uses_the_same_commands(peer: None) -> None:
    ours, theirs = render_document(DOCUMENT, commands="star"), peer_encode(PEER_CALLS)
    for data in (ours, theirs):
        assert read_paper(data).unknown == []
    for names in (
        ("emphasis_on", "emphasis_off"),
        ("underline",),
        ("expansion",),
        ("qr_model", "qr_error", "qr_cell", "qr_store", "qr_print"),
    ):
        assert commands(ours, *names) == commands(theirs, *names), names
    assert {b"\x1b\x1da\x01", b"\x1b\x1da\x00"} <= commands(theirs, "align")
    assert {b"\x1b\x1da\x01", b"\x1b\x1da\x00"} <= commands(ours, "align")
    mine, peers = read_paper(ours), read_paper(theirs)
    assert (
        visible(mine)
        == visible(peers)
        == [
            ("CHIT BISTRO", True, False, "center", 1, 1),
            ("Table 4", False, True, "left", 1, 1),
            ("BIG", False, False, "left", 2, 3),
        ]
    )
    assert mine.qr_codes == peers.qr_codes and mine.qr_codes[0].align == "center"
    assert mine.cuts == peers.cuts and [cut.partial for cut in mine.cuts] == [True]


def _pages(data: bytes) -> list[tuple[int, int]]:
    """(code page in force, byte) for every byte above ASCII in the text of ``data``."""
    page, found = 0, []
    for token in tokenize(data)[0]:
        if token.name == "code_page":
            page = token.args[0]
        elif token.name == "text":
            found += [(page, b) for b in token.payload if b >= 0x80]
    return found


@pytest.mark.parametrize("text", ["€4.50", "Борщ 120", "Łódź", "μέγα 3,20"])
def test_code_pages_are_numbered_as_star_numbers_them(peer: None, text: str) -> None:
    ours = render_document(
        ReceiptDocument.model_validate({"lines": [{"type": "text", "text": text}]}),
        commands="star",
    )
    theirs = peer_encode([["initialize"], ["codepage", "auto"], ["line", text]])
    assert _pages(ours) == _pages(theirs)
    assert read_paper(ours).texts == [text]
