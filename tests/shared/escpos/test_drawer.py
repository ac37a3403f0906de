"""Drawer and buzzer bytes as Epson's ESC/POS and Star's Line Mode specifications define them."""

from __future__ import annotations

import pytest

from shared.escpos.drawer import (
    buzzer_command,
    dle_dc4_pulse,
    drawer_command,
    epson_beep,
    esc_p,
    has_buzzer,
    star_beep,
    star_drawer,
)


def test_esc_p_pins_and_2ms_units() -> None:
    assert esc_p(2, 100, 500) == b"\x1bp\x00\x32\xfa"  # ESC p 0 t1 t2, t x 2 ms
    assert esc_p(5, 50, 500) == b"\x1bp\x01\x19\xfa"
    assert esc_p(2, 5000, 5000) == b"\x1bp\x00\xff\xff"  # clamped to 255


def test_dle_dc4_is_real_time_in_100ms_units() -> None:
    assert dle_dc4_pulse(2, 100) == b"\x10\x14\x01\x00\x01"  # DLE DC4 fn=1 m t
    assert dle_dc4_pulse(5, 260) == b"\x10\x14\x01\x01\x03"
    assert dle_dc4_pulse(2, 10) == b"\x10\x14\x01\x00\x01"  # 1 <= t <= 8
    assert dle_dc4_pulse(2, 2000) == b"\x10\x14\x01\x00\x08"


def test_ready_printer_gets_esc_p_and_a_faulted_one_the_real_time_pulse() -> None:
    assert drawer_command("escpos", 2, ready=True) == b"\x1bp\x00\x32\xfa"
    assert drawer_command("escpos", 2, ready=False) == b"\x10\x14\x01\x00\x01"


def test_star_drawer() -> None:
    # ESC BEL n1 n2 (x 10 ms), then BEL in order or FS at once; drawer 2 is SUB
    assert star_drawer(2, 200, 200, realtime=False) == b"\x1b\x07\x14\x14\x07"
    assert star_drawer(2, 200, 200, realtime=True) == b"\x1b\x07\x14\x14\x1c"
    assert star_drawer(5, 200, 200, realtime=True) == b"\x1a"
    assert drawer_command("star", 2, ready=False).endswith(b"\x1c")


def test_buzzers() -> None:
    assert epson_beep(3, 200) == b"\x1b(A\x04\x00\x30\x01\x03\x02"  # ESC ( A 4 0 48 n c t
    assert star_beep(2, 200) == b"\x1b\x1d\x19\x11\x01\x0a\x0a\x1b\x1d\x19\x12\x01\x02\x00"
    assert buzzer_command("star", 1, 100).startswith(b"\x1b\x1d\x19\x11")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("TM-m30II",), True),
        (("EPSON TM-T88VI",), True),
        ((None, "TM-T20II"), True),
        (("POS-5890",), False),
        ((None, None), False),
    ],
)
def test_which_printers_have_a_buzzer_command(
    names: tuple[str | None, ...], expected: bool
) -> None:
    assert has_buzzer("escpos", *names) is expected
    assert has_buzzer("star", *names)
