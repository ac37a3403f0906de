"""Documents for a Star printer in Star Graphic mode (raster only): which printers get it, and
what their documents are on paper (read by the simulated TSP143, agent.simulators)."""

from __future__ import annotations

from typing import Any

import pytest

from agent.cli_printers import status_text
from agent.command_sets import command_set, drawer_commands, raster_only
from agent.render import render_document, render_test_page
from agent.simulators.brain import PrinterBrain
from agent.simulators.star_graphic_paper import read_graphic_paper
from agent.simulators.star_paper import PrintedCut, StarPaper
from shared.documents import ReceiptDocument
from shared.escpos import star_raster
from shared.escpos.raster import decode_gs_v0, find_gs_v0
from shared.printers import Connection, DiscoverySource, PrinterInfo, PrintPath, QueueInfo

ESC_POS_ONLY = (b"\x1dV", b"\x1dv0", b"\x1d(k")
#: Line Mode's cut, bit image and QR commands: none of them belongs in raster output.
LINE_ONLY = (b"\x1bd", b"\x1bX", b"\x1b\x1dy")


def printer(**fields: Any) -> PrinterInfo:
    base: dict[str, Any] = {
        "printer_id": "usb:0519:0003:STARSIM01",
        "name": "Bar printer",
        "connection": Connection.USB,
        "source": DiscoverySource.USB,
        "status_channel": "star",
    }
    return PrinterInfo.model_validate({**base, **fields})


def queue_printer(driver: str, path: PrintPath = PrintPath.CUPS, **fields: Any) -> PrinterInfo:
    queue = QueueInfo(system="cups", name="Receipt", driver=driver, receipt=True)
    return printer(
        printer_id="cups:Receipt:usb", status_channel="queue", queue=queue, path=path, **fields
    )


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (printer(model="TSP143IIIU"), "star-graphic"),
        (printer(model="TSP143IIILAN"), "star-graphic"),
        (printer(model="TSP100IV"), "star-graphic"),
        (printer(model="Star TSP113"), "star-graphic"),
        (printer(model="TSP654II"), "star"),
        (printer(model="mC-Print3"), "star"),
        # No model: Star's USB product id of the TSP100 says it.
        (printer(vendor_id=0x0519, product_id=0x0003), "star-graphic"),
        (printer(vendor_id=0x0519, product_id=0x0001), "star"),
        # A model that says otherwise wins over the product id.
        (printer(model="TSP654II", vendor_id=0x0519, product_id=0x0003), "star"),
        # A name a manager gave it says nothing.
        (printer(model="TSP654II", name="TSP143 spare"), "star"),
        # A manager's choice wins over all of it.
        (printer(model="TSP143IIIU", command_set="star-line"), "star"),
        (printer(model="TSP143IIIU", command_set="escpos"), "escpos"),
        (printer(status_channel="escpos", command_set="star-graphic"), "star-graphic"),
        (printer(status_channel="escpos", model="TSP143IIIU"), "escpos"),
        # OS queues (every job raw): the driver or model names the printer.
        (queue_printer("Star TSP100 Cutter (TSP143)"), "star-graphic"),
        (queue_printer("Star TSP143 (STR_T-001)", path=PrintPath.SPOOLER), "star-graphic"),
        (queue_printer("Star TSP650"), "star"),
        (
            queue_printer("Local Raw Printer", manufacturer="Star", model="TSP143 (STR_T-001)"),
            "star-graphic",
        ),
        (queue_printer("Star TSP654 ESC/POS"), "escpos"),
        (queue_printer("EPSON TM-T20III Receipt5"), "escpos"),
        # The queue is there, but the agent prints directly.
        (queue_printer("Star TSP650", path=PrintPath.DIRECT), "escpos"),
    ],
)
def test_the_command_set_of_a_printer(info: PrinterInfo, expected: str) -> None:
    assert command_set(info) == expected


def test_both_star_modes_open_drawers_with_star_commands() -> None:
    assert drawer_commands(printer(model="TSP143IIIU")) == "star"
    assert drawer_commands(printer(model="TSP654II")) == "star"
    assert drawer_commands(printer(status_channel="escpos")) == "escpos"
    assert raster_only(printer(model="futurePRNT TSP100")) and not raster_only(printer())


DOCUMENT = ReceiptDocument.model_validate(
    {
        "lines": [
            {"type": "text", "text": "CHIT BISTRO", "bold": True, "align": "center", "width": 2},
            {"type": "pair", "left": "Soup", "right": "3.50"},
            {"type": "text", "text": "شاورما دجاج"},
            {"type": "feed", "lines": 2},
            {"type": "qr", "data": "order-42", "size": 6, "align": "center"},
            {"type": "cut", "partial": True},
            {"type": "text", "text": "Kitchen copy", "underline": True},
        ],
        "cut": True,
    }
)


def graphic(document: ReceiptDocument, **options: Any) -> tuple[bytes, StarPaper]:
    data = render_document(document, commands="star-graphic", **options)
    for command in ESC_POS_ONLY + LINE_ONLY:
        assert command not in data
    paper = read_graphic_paper(data)
    assert paper.unknown == [] and paper.texts == [] and paper.qr_codes == []
    return data, paper


def test_a_document_is_raster_between_entering_and_leaving_raster_mode() -> None:
    data, paper = graphic(DOCUMENT)
    assert data.startswith(star_raster.start())
    assert data.endswith(star_raster.cut() + star_raster.quit_raster())
    assert star_raster.cut(partial=True) in data
    # Two pages: up to the partial cut, and the kitchen copy with the closing full cut.
    assert [type(item).__name__ for item in paper.items] == [
        *("Raster", "PrintedCut", "Raster", "PrintedCut")
    ]
    assert paper.cuts == [PrintedCut(partial=True), PrintedCut(partial=False)]
    first, second = paper.images
    assert first.width <= 576 and first.height > 200  # title, pair, Arabic, 64 dots, QR
    assert 20 < second.height < 60


def test_every_line_is_drawn_whatever_the_text_mode_and_58_mm_is_384_dots() -> None:
    _, text_mode = graphic(DOCUMENT, text_mode="text")
    _, auto = graphic(DOCUMENT)
    assert text_mode.images == auto.images
    _, narrow = graphic(DOCUMENT, paper_width_mm=58)
    assert all(image.width <= 384 for image in narrow.images)


def test_an_uncut_document_is_printed_by_the_eot_mode_without_a_cut() -> None:
    document = ReceiptDocument.model_validate(
        {"lines": [{"type": "text", "text": "no cut"}], "cut": False}
    )
    data, paper = graphic(document)
    assert data.endswith(b"\x1b*rB") and b"\x1b\x0c" not in data
    assert len(paper.images) == 1 and paper.cuts == []  # EOT mode 1: form feed only


def test_a_drawn_line_has_the_same_dots_as_the_esc_pos_image_of_it() -> None:
    document = ReceiptDocument.model_validate(
        {"lines": [{"type": "text", "text": "مرحبا 123", "align": "right"}], "cut": False}
    )
    escpos = render_document(document, profile="TSP600", paper_width_mm=80)  # 576 dots
    [at] = find_gs_v0(escpos)
    expected, _ = decode_gs_v0(escpos, at)
    _, paper = graphic(document, paper_width_mm=80)
    [drawn] = paper.images
    assert drawn.height == expected.height
    for y in range(expected.height):
        assert drawn.row(y).rstrip(b"\x00") == expected.row(y).rstrip(b"\x00")


def test_the_test_page_of_a_tsp143_is_raster_and_prints_on_one() -> None:
    info = printer(model="TSP143IIIU")
    page = render_test_page(
        correlation_id="corr-graphic-page", agent_id="agent-1", hostname="till", printer=info
    )
    brain = PrinterBrain(mode="star_graphic")
    brain.receive(page)
    paper = brain.paper()
    assert paper.unknown == [] and len(paper.images) == 1 and len(brain.jobs) == 1
    assert paper.images[0].height > 400


def test_line_mode_prints_nothing_on_a_star_graphic_printer() -> None:
    brain = PrinterBrain(mode="star_graphic")
    brain.receive(render_document(DOCUMENT, commands="star"))
    paper = brain.paper()
    assert paper.images == [] and paper.cuts == [] and paper.texts == []
    assert {token.name for token in paper.unknown} >= {"text", "cut", "bit_image", "qr_print"}
    assert brain.jobs == []


def test_the_printer_list_says_when_a_star_printer_prints_raster() -> None:
    status = {
        "state": "online",
        "online": True,
        "source": "hardware",
        "checked_at": "2026-12-01T10:00:00Z",
    }
    line, raster = (
        printer(model="TSP654II", status=status),
        printer(model="TSP143IIIU", status=status),
    )
    assert status_text(line).endswith(" [star]")
    assert status_text(raster).endswith(" [star, raster]")
