"""Cash drawer and buzzer commands, ESC/POS and Star, built from the manufacturers' specifications.

ESC/POS (Epson):

- ``ESC p m t1 t2`` "Generate pulse": pin 2 (m = 0) or pin 5 (m = 1), on for t1 x 2 ms, off
  for t2 x 2 ms. It is an ordinary command: it waits in the receive buffer behind the data
  before it, and while the printer is offline (paper out, cover open) it is not executed, but
  kept, and the drawer would spring open later, when paper is loaded.
- ``DLE DC4 1 m t`` "Generate pulse in real-time": the same pins, on and off t x 100 ms
  (1 <= t <= 8), executed on receipt "even when the printer is offline, the receive buffer is
  full, or there is an error status". So a printer that is ready gets ``ESC p`` (every ESC/POS
  printer has it, clones included) and one that is not gets ``DLE DC4``.
- ``ESC ( A pL pH 48 n c t`` "Beep the buzzer": c beeps of t x 100 ms, sound n (model
  dependent; 1 is the first pattern). Epson lists it for the TM-m, TM-T20/T70/T8x/T88IV-VII,
  TM-P, TM-L, TM-U220/U230 and TM-J models.

Star Line Mode:

- ``ESC BEL n1 n2`` sets drawer 1's pulse (energize n1 x 10 ms, delay n2 x 10 ms, 1..127);
  ``BEL`` drives it in order with the data, ``FS`` drives it at once (real time). Drawer 2
  (``SUB``) has a fixed 200 ms pulse.
- ``ESC GS EM DC1 m n1 n2`` sets the buzzer's pulse (on n1 x 20 ms, off n2 x 20 ms), ``ESC GS EM
  DC2 m n1 n2`` sounds it n1 + 256 n2 times.
"""

from __future__ import annotations

import re
from typing import Literal

ESC, GS, DLE, DC4, BEL, FS, SUB, EM = 0x1B, 0x1D, 0x10, 0x14, 0x07, 0x1C, 0x1A, 0x19
DC1, DC2 = 0x11, 0x12

Pin = Literal[2, 5]
CommandSet = Literal["escpos", "star"]
#: Pulse times when the request gives none: long enough for common solenoids, as python-escpos'
#: ``CD_KICK`` (50 ms) doubled for the heavier drawers, and a 500 ms rest.
DEFAULT_ON_MS, DEFAULT_OFF_MS = 100, 500
#: Epson models that take ``ESC ( A`` function 48 (from Epson's ESC/POS command reference).
_EPSON_BUZZER = re.compile(
    r"^(EU-)?TM-(m10|m30|m50|J2[01]00|L90|L100|P20|P60|P80|T20(II|III|IV|X)|T70|T8[1-3]|"
    r"T88(IV|V|VI|VII)|T90|T100|U220|U230)",
    re.IGNORECASE,
)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def esc_p(pin: Pin, on_ms: int = DEFAULT_ON_MS, off_ms: int = DEFAULT_OFF_MS) -> bytes:
    """ESC p m t1 t2: a drawer pulse in order with the data."""
    m = 0 if pin == 2 else 1
    return bytes((ESC, ord("p"), m, _clamp(on_ms // 2, 1, 255), _clamp(off_ms // 2, 1, 255)))


def dle_dc4_pulse(pin: Pin, on_ms: int = DEFAULT_ON_MS) -> bytes:
    """DLE DC4 1 m t: a drawer pulse at once, also while offline (t x 100 ms, 1..8)."""
    m = 0 if pin == 2 else 1
    return bytes((DLE, DC4, 1, m, _clamp(round(on_ms / 100), 1, 8)))


def star_drawer(pin: Pin, on_ms: int, off_ms: int, realtime: bool) -> bytes:
    """Star Line Mode: drawer 1 with its pulse (BEL, or FS in real time); drawer 2 (SUB)."""
    if pin == 5:
        return bytes((SUB,))
    setup = bytes((ESC, BEL, _clamp(on_ms // 10, 1, 127), _clamp(off_ms // 10, 1, 127)))
    return setup + bytes((FS if realtime else BEL,))


def drawer_command(
    commands: CommandSet,
    pin: Pin,
    on_ms: int | None = None,
    off_ms: int | None = None,
    *,
    ready: bool,
) -> bytes:
    """The bytes that open a drawer now: in order when the printer is ready, real time if not."""
    on, off = on_ms or DEFAULT_ON_MS, off_ms or DEFAULT_OFF_MS
    if commands == "star":
        return star_drawer(pin, on, off, realtime=not ready)
    return esc_p(pin, on, off) if ready else dle_dc4_pulse(pin, on)


def epson_beep(times: int, duration_ms: int) -> bytes:
    """ESC ( A 4 0 48 n c t: ``times`` beeps, each cycle ``duration_ms`` (x 100 ms)."""
    cycle = _clamp(round(duration_ms / 100), 1, 255)
    return bytes((ESC, ord("("), ord("A"), 4, 0, 48, 1, _clamp(times, 1, 63), cycle))


def star_beep(times: int, duration_ms: int) -> bytes:
    """ESC GS EM DC1 / DC2 on buzzer 1: on for ``duration_ms``, as long off, ``times`` times."""
    pulse = _clamp(duration_ms // 20, 1, 255)
    setup = bytes((ESC, GS, EM, DC1, 1, pulse, pulse))
    return setup + bytes((ESC, GS, EM, DC2, 1, _clamp(times, 1, 255), 0))


def buzzer_command(commands: CommandSet, times: int, duration_ms: int) -> bytes:
    """The bytes that sound the printer's buzzer."""
    if commands == "star":
        return star_beep(times, duration_ms)
    return epson_beep(times, duration_ms)


def has_buzzer(commands: CommandSet, *names: str | None) -> bool:
    """Whether the printer's command set has a buzzer command (Star, or an Epson model listed
    for ``ESC ( A``), judged by its model or profile names."""
    if commands == "star":
        return True
    return any(name and _EPSON_BUZZER.match(name.strip().removeprefix("EPSON ")) for name in names)
