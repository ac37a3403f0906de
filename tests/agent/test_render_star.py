"""Documents for a printer in Star mode: Star Line Mode commands, read back as a Star printer
reads them (agent.simulators.star_paper), and no ESC/POS command among them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.render import render_document, render_for, render_test_page
from agent.simulators.star_paper import PrintedCut, PrintedLine, StarPaper, read_paper
from shared.documents import ReceiptDocument
from shared.escpos.star_tokens import tokenize
from shared.printers import Connection, DiscoverySource, PrinterInfo

#: ESC/POS commands a Star printer in Star mode does not have: cut, raster image, 2D code.
ESC_POS_ONLY = (b"\x1dV", b"\x1dv0", b"\x1d(k")


def star_printer(**fields: object) -> PrinterInfo:
    base: dict[str, object] = {
        "printer_id": "usb:0519:0003:STARSIM01",
        "name": "Bar TSP650II",
        "connection": Connection.USB,
        "source": DiscoverySource.USB,
        "status_channel": "star",
    }
    return PrinterInfo.model_validate({**base, **fields})


def doc(*lines: dict[str, object], cut: bool = True) -> ReceiptDocument:
    return ReceiptDocument.model_validate({"lines": list(lines), "cut": cut})


def star(document: ReceiptDocument, **options: object) -> StarPaper:
    data = render_document(document, commands="star", **options)  # type: ignore[arg-type]
    for command in ESC_POS_ONLY:
        assert command not in data
    paper = read_paper(data)
    assert paper.unknown == []
    return paper


def test_text_styles_are_star_commands() -> None:
    paper = star(
        doc(
            {"type": "text", "text": "TOTAL", "bold": True, "align": "center", "width": 2},
            {"type": "text", "text": "note", "underline": True, "align": "end", "height": 3},
            {"type": "text", "text": "plain"},
        )
    )
    assert paper.lines == [
        PrintedLine("TOTAL", bold=True, align="center", width=2),
        PrintedLine("note", underline=True, align="right", height=3),
        PrintedLine("plain"),
    ]
    assert paper.cuts == [PrintedCut(partial=False)]


def test_the_walk_is_the_same_as_for_esc_pos() -> None:
    data = render_document(doc({"type": "text", "text": "x"}), commands="star")
    assert data.startswith(b"\x1b@\x1b\x1da\x00\x1bF\x1b-\x00\x1bi\x00\x00x\n")
    assert data.endswith(b"\x1bd\x02")


@pytest.mark.parametrize(("width", "columns"), [(80, 48), (58, 32)])
def test_a_pair_fills_the_font_a_columns_of_the_paper(width: int, columns: int) -> None:
    paper = star(doc({"type": "pair", "left": "Soup", "right": "3.50"}), paper_width_mm=width)
    assert paper.texts == ["Soup" + " " * (columns - 8) + "3.50"]


def test_text_goes_in_stars_code_pages() -> None:
    data = render_document(doc({"type": "text", "text": "Crème €4 Борщ"}), commands="star")
    # CP858 (Star's page 4) has è and €; CP866 (page 10) the Cyrillic.
    assert b"\x1b\x1dt\x04Cr\x8ame \xd54 \x1b\x1dt\x0a\x81\xae\xe0\xe9" in data
    assert read_paper(data).texts == ["Crème €4 Борщ"]


def test_qr_feed_and_partial_cut() -> None:
    paper = star(
        doc(
            {"type": "qr", "data": "order-42", "size": 6, "align": "center"},
            {"type": "feed", "lines": 2},
            {"type": "cut", "partial": True},
            cut=False,
        )
    )
    [qr] = paper.qr_codes
    assert (qr.data, qr.model, qr.cell) == (b"order-42", 2, 6)
    assert paper.lines == [PrintedLine(""), PrintedLine("")]
    assert paper.cuts == [PrintedCut(partial=True)]


@pytest.mark.parametrize(("width", "dots"), [(None, 576), (80, 576), (58, 384)])
def test_lines_that_need_shaping_are_bit_images_within_the_paper(
    width: int | None, dots: int
) -> None:
    paper = star(
        doc({"type": "text", "text": "شاورما دجاج"}, {"type": "text", "text": "宫保鸡丁"}),
        paper_width_mm=width,
    )
    assert len(paper.images) == 2 and paper.texts == []
    for image in paper.images:
        assert 8 <= image.width <= dots and image.width % 8 == 0
        assert image.height % 24 == 0 and any(image.data)


def test_image_mode_draws_every_line() -> None:
    paper = star(doc({"type": "text", "text": "plain"}), text_mode="image")
    assert len(paper.images) == 1 and paper.texts == []


def test_render_for_follows_the_status_channel() -> None:
    document = doc({"type": "text", "text": "x"})
    assert b"\x1dV" in render_for(document, star_printer(status_channel="escpos"))
    assert b"\x1dV" in render_for(document, star_printer(status_channel=None))
    star_bytes = render_for(document, star_printer())
    assert b"\x1dV" not in star_bytes and star_bytes.endswith(b"\x1bd\x02")


def test_the_test_page_for_a_star_printer() -> None:
    page = render_test_page(
        correlation_id="corr-star-1",
        agent_id="agent-7",
        hostname="till-2",
        printer=star_printer(),
        now=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    )
    for command in ESC_POS_ONLY:
        assert command not in page
    paper = read_paper(page)
    assert paper.unknown == []
    assert paper.lines[0] == PrintedLine("CHIT TEST PAGE", True, False, "center", 2, 2)
    assert "Profile: Star Line Mode" in paper.texts and "corr-star-1" in paper.texts
    assert [qr.data for qr in paper.qr_codes] == [b"corr-star-1"]
    assert len(paper.images) == 2  # the Arabic and the Chinese line
    assert paper.items[-1] == PrintedCut(partial=False)
    assert tokenize(page)[0][0].name == "initialize"
