"""Text in the printer's code pages: the right page, ESC t only when it changes, all or nothing."""

from __future__ import annotations

from escpos.capabilities import CAPABILITIES

from agent.codepages import CodePageWriter, clean, needs_layout, profile_code_pages


def writer(profile: str) -> CodePageWriter:
    return CodePageWriter(profile_code_pages(CAPABILITIES["profiles"][profile]["codePages"]))


def test_euro_goes_out_in_pc858_not_in_a_page_the_printer_lacks() -> None:
    # python-escpos' MagicEncode sorts slots as strings and picks ISO 8859-7 (slot 15) for "€"
    for profile in ("TM-T88V", "TM-T88III", "TM-T20II", "POS-5890"):
        assert writer(profile).encode("€4.50") == b"\x1bt\x13\xd54.50", profile


def test_one_page_for_a_whole_line_when_one_holds_it() -> None:
    # PC437 holds "è" but not "€"; PC858 holds both, so there is one switch, not two
    assert writer("TM-T88V").encode("Crème €") == b"\x1bt\x13Cr\x8ame \xd5"


def test_page_is_kept_across_lines_and_reset_by_init() -> None:
    w = writer("TM-T88V")
    assert w.encode("Борщ") == b"\x1bt\x11\x81\xae\xe0\xe9"  # PC866, slot 17
    assert w.encode("Щи") == b"\x99\xa8"  # still PC866: no ESC t
    w.reset()
    assert w.encode("Щи") == b"\x1bt\x11\x99\xa8"


def test_pages_follow_the_profile() -> None:
    assert writer("TM-T88V").encode("Ωμέγα") == b"\x1bt\x0e\x97\xa3\xe2\x9a\x98"  # PC737 at 14
    assert writer("POS-5890").encode("Ωμέγα") == b"\x1bt\x40\x97\xa3\xe2\x9a\x98"  # PC737 at 64
    assert writer("TM-T88III").encode("Ωμέγα") is None  # no Greek page at all


def test_what_no_page_holds_is_refused_or_replaced() -> None:
    w = writer("TM-T88V")
    assert w.encode("宫保鸡丁") is None  # never GB18030 to a printer without Chinese firmware
    assert not w.fits("Борщ 120₽")
    assert w.encode("Борщ 120₽", fallback="?") == b"\x1bt\x11\x81\xae\xe0\xe9 120?"


def test_control_characters_never_reach_the_printer() -> None:
    assert writer("TM-T88V").encode("a\x1bp\x00\x19\x7fb\x85") == b"a p   b "
    assert clean("e\u0301") == "é"  # NFC first: the precomposed letter is in the pages


def test_what_needs_shaping() -> None:
    assert needs_layout("مرحبا")
    assert needs_layout("שלום")
    assert needs_layout("สวัสดี")  # combining vowels
    assert needs_layout("ラーメン")  # wide
    assert not needs_layout("Crème brûlée €4.50 Борщ Ωμέγα")
