# ruff: noqa: RUF001, RUF003
"""Text drawn with the shipped fonts: shaped, in reading order, wrapped to the paper."""

from __future__ import annotations

import itertools

from PIL import Image

from agent import glyphs
from agent.glyphs import CJK, EMOJI, SANS, Style, base_rtl, draw_line, font_of, measure, wrap


def ink_columns(image: Image.Image) -> list[int]:
    """x of every column with a dark dot."""
    bw = image.point(lambda v: 0 if v < 128 else 255)
    return [x for x in range(bw.width) if any(bw.getpixel((x, y)) == 0 for y in range(bw.height))]


def test_pillow_here_shapes_with_raqm() -> None:
    assert glyphs.raqm_available()


def test_arabic_letters_join() -> None:
    # Joined letters are narrower than the same letters kept apart by ZWNJ (isolated forms)
    joined = measure("سلام", Style())
    apart = measure("س\u200cل\u200cا\u200cم", Style())
    assert joined < apart


def test_arabic_reads_right_to_left() -> None:
    # "ب" then "ا": in an RTL line the first letter is on the right. "ا" is one thin stroke.
    line = draw_line("ب ا", Style(size=40))
    columns = ink_columns(line)
    gaps = [b for a, b in itertools.pairwise(columns) if b - a > 3]
    assert len(gaps) == 1
    left_width = gaps[0] - columns[0]
    right_width = columns[-1] - gaps[0]
    assert left_width < right_width  # the thin alef is drawn on the left, baa on the right


def test_fonts_per_character() -> None:
    assert font_of("a") == SANS
    assert font_of("ش") == SANS
    assert font_of("क") == SANS
    assert font_of("宫") == CJK
    assert font_of("한") == CJK
    assert font_of("🍕") == EMOJI
    assert base_rtl("12 שלום") and not base_rtl("Total شاورما")


def test_mixed_fonts_in_one_line_follow_bidi() -> None:
    runs = glyphs.visual_runs("宫保 مع أرز", rtl=False)
    assert [r.font for r in runs] == [CJK, SANS]
    assert runs[1].rtl
    runs = glyphs.visual_runs("شاي 🍵 بالنعناع", rtl=True)
    # right to left: the last Arabic word is drawn leftmost, the first one rightmost
    assert runs[0].text.strip() == "بالنعناع"
    assert runs[-1].text.strip() == "شاي"


def test_emoji_are_drawn_in_black_dots() -> None:
    line = draw_line("🍕", Style())
    assert line.width == 24
    assert len(ink_columns(line)) > 12


def test_wrapping_keeps_words_and_breaks_cjk_anywhere() -> None:
    text = "هذا نص عربي طويل جدا يجب أن يلتف على عدة أسطر في الورق الصغير"
    lines = wrap(text, 384, Style())
    assert len(lines) > 1
    assert " ".join(lines) == text
    assert all(measure(line, Style()) <= 384 for line in lines)
    cjk = wrap("宫保鸡丁" * 8, 384, Style())
    assert "".join(cjk) == "宫保鸡丁" * 8
    assert all(measure(line, Style()) <= 384 for line in cjk)


def test_magnification_and_bold() -> None:
    normal = draw_line("Abc", Style())
    wide = draw_line("Abc", Style(width=2))
    tall = draw_line("Abc", Style(height=2))
    assert wide.width >= 2 * normal.width - 2
    assert tall.height == 2 * normal.height
    bold = draw_line("Abc", Style(bold=True))
    assert len(ink_columns(bold)) >= len(ink_columns(normal))
