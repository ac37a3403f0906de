"""Our Star Graphic (raster) output against an encoder we did not write.

receiptline (npm, pinned in tests/peers/star_graphic and installed there with ``npm ci``) has a
Star Graphic mode (``command: 'stargraphic'``) that prints images as Star raster lines. It is
given, as a PNG, the very image our document prints (a drawn line, read back from our bytes),
and must put the same dots on paper with the same framing: ``ESC * r A``, ``ESC * r P 0 NUL``,
``b n1 n2 d...`` lines, ``ESC FF NUL`` for the cut, ``ESC * r B``. Where the two differ, both are
valid: the peer sends every row at full width where we trim its white end and send white rows
as ``ESC * r Y``; it turns ASB off (``ESC RS a 0``) where we keep it (ASB is how the agent reads
a Star printer's status); and it cuts in the FF mode the printer starts with (partial, 13) where
we set it (``ESC * r F 9 NUL``, full cut).
(@point-of-sale/receipt-printer-encoder 4.0.1, the Line Mode peer, has no Star raster: its
``star-prnt`` and ``star-line`` images are ``ESC X`` bit image bands, and it lists the TSP100III
and TSP100IV as ``star-prnt`` printers.)
"""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from agent.render import render_document
from agent.simulators.star_graphic_paper import read_graphic_paper
from shared.documents import ReceiptDocument
from shared.escpos import star_raster
from shared.escpos.raster import Raster
from tests.npm_peers import peer_bytes, peer_missing

DOTS = 576
DOCUMENT = ReceiptDocument.model_validate(
    {
        "lines": [{"type": "text", "text": "CHIT BISTRO · مرحبا", "bold": True, "width": 2}],
        "cut": True,
    }
)


@pytest.fixture(scope="module")
def peer() -> None:
    if (reason := peer_missing("star_graphic", "receiptline")) is not None:
        pytest.skip(reason)


def png_of(raster: Raster, width: int) -> str:
    """The raster as a black-on-white PNG ``width`` dots wide, base64 (receiptline's image)."""
    rows = b"".join(raster.row(y).ljust(width // 8, b"\x00") for y in range(raster.height))
    # Pillow's mode "1" packs a set bit as white: the dots inverted.
    image = Image.frombytes("1", (width, raster.height), bytes(b ^ 0xFF for b in rows))
    out = io.BytesIO()
    image.convert("RGBA").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def peer_encode(doc: str) -> bytes:
    """receiptline's Star Graphic bytes for a ReceiptLine document (80 mm: 48 columns)."""
    printer = {"cpl": DOTS // 12, "gradient": False, "cutting": True}
    request = {"doc": doc, "printer": printer}
    return peer_bytes("star_graphic", request)


def forms(data: bytes, *names: str) -> list[bytes]:
    """The byte forms of the named commands in ``data``, in order."""
    tokens = star_raster.tokenize(data)[0]
    return [data[t.start : t.end] for t in tokens if t.name in names]


def test_the_same_image_prints_the_same_dots_with_the_same_framing(peer: None) -> None:
    ours = render_document(DOCUMENT, commands="star-graphic", paper_width_mm=80)
    [drawn] = read_graphic_paper(ours).images
    theirs = peer_encode("{image:" + png_of(drawn, DOTS) + "}\n=")

    mine, peers = read_graphic_paper(ours), read_graphic_paper(theirs)
    assert mine.unknown == [] and peers.unknown == []
    [their_image] = peers.images
    assert their_image.width == DOTS and their_image.height == drawn.height
    for y in range(drawn.height):
        assert their_image.row(y).rstrip(b"\x00") == drawn.row(y).rstrip(b"\x00"), y
    assert len(mine.cuts) == len(peers.cuts) == 1

    # The framing: the same enter, page length, form feed and quit bytes, in the same order.
    framing = ("raster_enter", "raster_page_length", "raster_form_feed", "raster_quit")
    assert (
        forms(ours, *framing)
        == forms(theirs, *framing)
        == [b"\x1b*rA", b"\x1b*rP0\x00", b"\x1b\x0c\x00", b"\x1b*rB"]
    )
    # Every raster line of both is b n1 n2 and n1 + 256 n2 bytes of dots.
    for data in (ours, theirs):
        for token in star_raster.tokenize(data)[0]:
            if token.name == "raster_line":
                assert data[token.start] == ord("b") and token.args[0] == len(token.payload)
                assert 1 <= len(token.payload) <= DOTS // 8
    assert {len(line) for line in forms(theirs, "raster_line")} == {3 + DOTS // 8}
