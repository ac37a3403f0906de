# ruff: noqa: RUF001
"""Golden tests: exact bytes of a fixed receipt on two profiles; Arabic and Chinese lines as
images compared with stored reference images (decoded from the GS v 0 bytes)."""

from __future__ import annotations

import pytest

from agent.render import TEST_PAGE_ARABIC, TEST_PAGE_CHINESE, render_document, render_test_page
from shared.documents import ReceiptDocument
from shared.escpos.raster import decode_esc_star
from shared.printers import Connection, DiscoverySource, PrinterInfo
from tests.agent.golden_images import (
    assert_golden_bytes,
    assert_matches,
    ink,
    printed_images,
    without_images,
)

GS_V0 = b"\x1dv0"
ARABIC = "شاورما دجاج مع ثومية"
CHINESE = "宫保鸡丁 米饭"

FIXED = ReceiptDocument.model_validate(
    {
        "lines": [
            {"type": "text", "text": "CHIT BISTRO", "bold": True, "align": "center", "width": 2},
            {"type": "text", "text": "Crème brûlée €4.50"},
            {"type": "text", "text": "Борщ 120 руб"},
            {"type": "text", "text": "Ωμέγα 3,20 €"},
            {"type": "pair", "left": "Soup", "right": "3.50"},
            {"type": "qr", "data": "order-42", "size": 4},
            {"type": "text", "text": "Merci!", "align": "end"},
        ]
    }
)


def doc(*lines: dict[str, object], direction: str = "auto") -> ReceiptDocument:
    return ReceiptDocument.model_validate({"lines": list(lines), "direction": direction})


@pytest.mark.parametrize("profile", ["TM-T88V", "POS-5890"])
def test_fixed_receipt_bytes(profile: str) -> None:
    data = render_document(FIXED, profile=profile)
    assert_golden_bytes(data, f"receipt-{profile}.bin")


def test_fixed_receipt_is_text_in_each_printers_own_pages() -> None:
    t88v = render_document(FIXED, profile="TM-T88V")
    pos58 = render_document(FIXED, profile="POS-5890")
    assert GS_V0 not in t88v  # all of it is text: native QR, no image
    assert b"\x1bt\x0f\xd9\xec\xdd\xe3\xe1 3,20 \xa4" in t88v  # ISO 8859-7 (slot 15) has both
    assert b"\x1bt\x5a\xd9\xec\xdd\xe3\xe1 3,20 \x80" in pos58  # WPC1253 is slot 90 there
    assert b"Soup" + b" " * 34 + b"3.50\n" in t88v  # 42 columns
    assert b"Soup" + b" " * 24 + b"3.50\n" in pos58  # 32 columns


@pytest.mark.parametrize(
    ("text", "name"), [(ARABIC, "arabic-line.png"), (CHINESE, "chinese-line.png")]
)
def test_script_lines_print_as_reference_images(text: str, name: str) -> None:
    data = render_document(doc({"type": "text", "text": text}), profile="TM-T88V")
    [image] = printed_images(data)
    assert_matches(image, name)
    assert b"?" not in without_images(data)


def test_arabic_on_a_tm_t88iii_is_no_longer_question_marks() -> None:
    data = render_document(doc({"type": "text", "text": ARABIC}), profile="TM-T88III")
    assert b"?" not in without_images(data)
    [image] = printed_images(data)
    assert_matches(image, "arabic-line.png")  # same 512-dot printer, same picture


def test_arabic_line_is_right_aligned_and_chinese_left() -> None:
    [arabic] = printed_images(render_document(doc({"type": "text", "text": ARABIC})))
    [chinese] = printed_images(render_document(doc({"type": "text", "text": CHINESE})))
    assert arabic.width == 512  # reaches the right edge
    assert chinese.width < 512  # trimmed after its last dot
    assert arabic.convert("L").getpixel((2, 18)) == 255  # the left margin stays blank


def test_rtl_document_aligns_start_to_the_right() -> None:
    data = render_document(doc({"type": "text", "text": "Total 12.50"}, direction="rtl"))
    assert b"\x1ba\x02" in data and b"Total 12.50\n" in data
    data = render_document(doc({"type": "text", "text": "Total 12.50"}))
    assert b"\x1ba\x02" not in data


def test_two_language_pair_line() -> None:
    line = {"type": "pair", "left": "Chicken shawarma", "right": "شاورما دجاج"}
    data = render_document(doc(line), profile="TM-T88V")
    [image] = printed_images(data)
    assert image.width == 512
    left, right = image.crop((0, 0, 200, image.height)), image.crop((300, 0, 512, image.height))
    assert ink(left) > 100 and ink(right) > 100
    assert ink(image.crop((220, 0, 290, image.height))) == 0  # the gap between them
    long_pair = {"type": "pair", "left": "Chicken shawarma with garlic", "right": ARABIC + ARABIC}
    assert len(printed_images(render_document(doc(long_pair), profile="POS-5890"))) >= 2


def test_text_modes() -> None:
    plain = doc({"type": "text", "text": "Crème €4"})
    assert GS_V0 not in render_document(plain, text_mode="auto")
    assert GS_V0 in render_document(plain, text_mode="image")
    text_only = render_document(doc({"type": "text", "text": CHINESE}), text_mode="text")
    assert GS_V0 not in text_only and b"???? ??" in text_only


def test_paper_width_sets_the_dot_width() -> None:
    wide = doc({"type": "text", "text": ARABIC})
    [image] = printed_images(render_document(wide, profile="TM-T20II"))
    assert image.width == 576
    [image] = printed_images(render_document(wide, profile="TM-T20II", paper_width_mm=58))
    assert image.width == 384
    [image] = printed_images(render_document(wide, profile="POS-5890"))
    assert image.width == 384


def test_printer_without_gs_v0_gets_esc_star() -> None:
    data = render_document(doc({"type": "text", "text": CHINESE}), profile="TM-U220")
    assert GS_V0 not in data
    start = data.index(b"\x1b3\x18\x1b*\x21")
    raster, _ = decode_esc_star(data, start)
    assert raster.height == 48  # two 24-dot bands


def test_test_page_has_an_arabic_and_a_chinese_line() -> None:
    printer = PrinterInfo(
        printer_id="tcp:127.0.0.1:9100",
        name="Bar",
        connection=Connection.NETWORK,
        source=DiscoverySource.MANUAL,
        profile="TM-T88V",
    )
    page = render_test_page(correlation_id="corr-1", agent_id="a", hostname="h", printer=printer)
    arabic, chinese = printed_images(page)
    alone = render_document(doc({"type": "text", "text": TEST_PAGE_ARABIC}), profile="TM-T88V")
    assert arabic.tobytes() == printed_images(alone)[0].tobytes()
    assert_matches(chinese, "testpage-chinese.png")
    assert_matches(arabic, "testpage-arabic.png")
    assert TEST_PAGE_CHINESE.encode() not in page
