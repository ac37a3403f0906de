"""Star Line Mode bytes cut into commands, without I/O: what a Star printer reads in a stream.

The reader of :mod:`shared.escpos.star_line`'s output and of any other encoder's (the peer test
compares the two command by command), and the simulated Star printer's parser. A table maps
each command's leading bytes to its name and the number of fixed argument bytes after them;
the commands with data of their own length (``ESC X`` bit images, ``ESC GS y D 1`` QR data)
are read by their length fields, so their payload is never taken for commands.

Bytes that are not a command: runs of printable bytes (0x20 and up) are ``text``; a control
byte without a meaning here is ``control`` (its value the argument) and ``ESC`` before an
unknown byte is ``escape``: an ESC/POS ``GS V 0`` sent to a Star printer reads as ``control
0x1d`` then the text ``V`` and ``control 0x00``, which is how a test sees it went wrong.

With ``final=False`` a command cut short at the end of the bytes is left unread (the offset
returned says where it starts): a stream reader keeps it for the next chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

ESC, GS, LF = 0x1B, 0x1D, 0x0A

#: Leading bytes -> (name, fixed argument bytes). Names follow the specification's wording.
COMMANDS: dict[bytes, tuple[str, int]] = {
    b"\x1b@": ("initialize", 0),
    b"\x18": ("cancel", 0),  # CAN: cancel print data and initialize commands
    b"\x1bE": ("emphasis_on", 0),
    b"\x1bF": ("emphasis_off", 0),
    b"\x1b-": ("underline", 1),
    b"\x1bi": ("expansion", 2),
    b"\x1bW": ("expansion_width", 1),
    b"\x1bh": ("expansion_height", 1),
    b"\x1b4": ("inverse_on", 0),
    b"\x1b5": ("inverse_off", 0),
    b"\x1b\x1eF": ("font", 1),
    b"\x1b\x1da": ("align", 1),
    b"\x1b\x1dt": ("code_page", 1),
    b"\x1b\x1dP": ("print_mode", 1),
    b"\x0a": ("line_feed", 0),
    b"\x0d": ("carriage_return", 0),
    b"\x1ba": ("feed_lines", 1),
    b"\x1b0": ("line_spacing_3mm", 0),
    b"\x1bz": ("line_spacing", 1),
    b"\x1bd": ("cut", 1),
    b"\x1b\x1dyS0": ("qr_model", 1),
    b"\x1b\x1dyS1": ("qr_error", 1),
    b"\x1b\x1dyS2": ("qr_cell", 1),
    b"\x1b\x1dyP": ("qr_print", 0),
    b"\x1b\x07": ("drawer_pulse_setup", 2),
    b"\x07": ("drawer_1", 0),
    b"\x1c": ("drawer_1_now", 0),
    b"\x1a": ("drawer_2_now", 0),
    b"\x1b\x1d\x19\x11": ("buzzer_setup", 3),
    b"\x1b\x1d\x19\x12": ("buzzer", 3),
    b"\x1b\x06\x01": ("asb_request", 0),
    b"\x1b\x1ea": ("asb_setting", 1),
    b"\x05": ("enq", 0),
    b"\x04": ("eot", 0),
    b"\x1b#*\n\x00": ("version_request", 0),  # ESC # * LF NUL: send the printer version
}
#: Commands whose data length is in their own bytes.
BIT_IMAGE, QR_STORE = b"\x1bX", b"\x1b\x1dyD1"
_PREFIXES = sorted([*COMMANDS, BIT_IMAGE, QR_STORE], key=len, reverse=True)
_LONGEST = len(_PREFIXES[0])


class StarParseError(ValueError):
    """Bytes that end inside a command (with ``final=True``)."""


@dataclass(frozen=True)
class StarToken:
    """One command (or run of text) and where it is: ``data[start:end]``."""

    name: str
    args: tuple[int, ...]
    payload: bytes
    start: int
    end: int


class _Short(Exception):
    """The command at hand needs more bytes than there are."""


def _need(data: bytes, end: int) -> None:
    if end > len(data):
        raise _Short


def _variable(data: bytes, at: int, prefix: bytes) -> StarToken:
    """An ``ESC X n1 n2 d...`` band (3 bytes a column) or ``ESC GS y D 1 m nL nH d...``."""
    head = at + len(prefix)
    if prefix == BIT_IMAGE:
        _need(data, head + 2)
        width = data[head] | data[head + 1] << 8
        end = head + 2 + 3 * width
        _need(data, end)
        return StarToken("bit_image", (width,), data[head + 2 : end], at, end)
    _need(data, head + 3)
    length = data[head + 1] | data[head + 2] << 8
    end = head + 3 + length
    _need(data, end)
    return StarToken("qr_store", (data[head],), data[head + 3 : end], at, end)


def _command(data: bytes, at: int) -> StarToken:
    """The command at ``at`` (``_Short`` when it is cut off)."""
    for prefix in _PREFIXES:
        if data.startswith(prefix, at):
            if prefix in (BIT_IMAGE, QR_STORE):
                return _variable(data, at, prefix)
            name, count = COMMANDS[prefix]
            end = at + len(prefix) + count
            _need(data, end)
            return StarToken(name, tuple(data[at + len(prefix) : end]), b"", at, end)
    rest = data[at : at + _LONGEST]
    if len(rest) < _LONGEST and any(prefix.startswith(rest) for prefix in _PREFIXES):
        raise _Short
    if data[at] == ESC:
        return StarToken("escape", (data[at + 1],), b"", at, at + 2)
    return StarToken("control", (data[at],), b"", at, at + 1)


def _text(data: bytes, at: int) -> StarToken:
    end = at
    while end < len(data) and data[end] >= 0x20:
        end += 1
    return StarToken("text", (), data[at:end], at, end)


def tokenize(data: bytes, *, final: bool = True) -> tuple[list[StarToken], int]:
    """The commands in ``data`` and how many bytes they cover (all, when ``final``)."""
    tokens: list[StarToken] = []
    at = 0
    while at < len(data):
        try:
            token = _text(data, at) if data[at] >= 0x20 else _command(data, at)
        except _Short:
            if final:
                raise StarParseError(f"bytes end inside a command at byte {at}") from None
            break
        tokens.append(token)
        at = token.end
    return tokens, at


def names(data: bytes) -> list[str]:
    """The command names in ``data``, in order (text runs included as ``text``)."""
    return [token.name for token in tokenize(data)[0]]
