"""What a frozen agent's test page must contain: the Arabic and Chinese lines drawn with the
shipped fonts, byte for byte as the installed package draws them."""

from __future__ import annotations

import re

from agent.render import (
    TEST_PAGE_ARABIC,
    TEST_PAGE_CHINESE,
    profile_name,
    render_document,
    text_mode_of,
)
from shared.documents import ReceiptDocument, TextLine
from shared.printers import PrinterInfo

GS_V_0 = b"\x1dv0"


def raster_blocks(data: bytes) -> list[bytes]:
    """Every ``GS v 0`` raster image in ``data`` (header and its width*height bytes)."""
    found, at = [], 0
    while (at := data.find(GS_V_0, at)) >= 0:
        xl, xh, yl, yh = data[at + 4 : at + 8]
        end = at + 8 + (xl + 256 * xh) * (yl + 256 * yh)
        found.append(data[at:end])
        at = end
    return found


def script_lines(printer: PrinterInfo) -> list[bytes]:
    """The raster images of the test page's Arabic and Chinese lines, drawn in this process."""
    images: list[bytes] = []
    for text in (TEST_PAGE_ARABIC, TEST_PAGE_CHINESE):
        page = render_document(
            ReceiptDocument(lines=[TextLine(text=text)]),
            profile=profile_name(printer.profile),
            text_mode=text_mode_of(printer),
            paper_width_mm=printer.paper_width_mm,
        )
        images += raster_blocks(page)
    return images


def drew_scripts_as_installed(printed: bytes, printer: PrinterInfo) -> bool:
    """Whether ``printed`` holds the script lines exactly as the installed package draws them.

    For the profile the agent chose, which the test page names ("Profile: TM-T20II": the
    simulator says it is a TM-T20III when asked GS I, so the profile follows the model).
    """
    chosen = re.search(rb"Profile: ([^\n]+)\n", printed)
    if chosen is not None:
        printer = printer.model_copy(update={"profile": chosen.group(1).decode()})
    expected = script_lines(printer)
    return len(expected) == 2 and all(image in printed for image in expected)
