"""Star raster ("Star Graphic mode") documents as bytes, and back, without I/O.

The TSP100 futurePRNT family (TSP100, TSP143, TSP143II, TSP143III / TSP100III, and the TSP100IV
in its Star Graphic emulation) takes no Line Mode text: it prints only Star's raster graphics,
which Star's "STAR Graphic Mode Command Specifications" (Rev 2.32) describe: section 3-2
"Raster Graphics Command Details" (``ESC * r R``, ``A``, ``B``, ``C``, ``D``, ``E``, ``F``, ...).
The same raster commands are in the "STAR Line Mode Command Specifications" (thermal/slip edition
Rev 0.00, pages 3-91 to 3-103), for the Line Mode printers that also have a raster mode; the
command names quoted below are from there. Outside raster mode a Star Graphic printer keeps
only section 3-1's standard commands: external device drive (``ESC BEL n1 n2``, ``BEL``,
``FS``, ``SUB``, the buzzer), print settings and status (``ESC RS a n``, ``ESC ACK SOH``). A
document is:

- ``ESC * r A`` enter raster mode ("Enter raster mode": prints what is buffered, as a form feed,
  and sets the raster settings to their initial values);
- ``ESC * r P n NUL`` page length, ``n`` = 0: continuous paper ("Set raster page length");
- ``ESC * r E n NUL`` EOT mode ("Set raster EOT mode"): what quitting raster mode with data in
  the image buffer does (``ESC * r B``, ``ESC FF EOT``). Set to 1 (form feed only) here, so no
  cut happens unless a cut is asked for;
- raster lines ``b n1 n2 d1...dk`` ("Send raster data (auto line feed)", k = n1 + 256 n2
  bytes, the most significant bit the leftmost dot, a set bit a printed dot; a line shorter
  than the head is white to its right);
- ``ESC * r Y n NUL`` (the raster vertical move): ``n`` dot lines of paper feed, white;
- a cut: ``ESC * r F n NUL`` ("Set raster FF mode", n = 9 form feed, cut feed, full cut; 13
  the same with a partial cut) then ``ESC FF NUL``, which executes the FF mode (as ``ESC FF
  EOT``, "Execute EOT mode", does the EOT mode): the printed paper is fed past the cutter and
  cut. In raster mode the cut is a mode of the form feed, not Line Mode's ``ESC d n``;
- ``ESC * r B`` quit raster mode ("Quit raster mode": runs the EOT mode first if raster data is
  still buffered).

Every numeric argument ``n`` of an ``ESC * r x n NUL`` command is written as ASCII decimal
digits ("n is a decimal description using ASCII characters"), then NUL: page length 0 is
``1B 2A 72 50 30 00``. Raster lines go uncompressed.

:func:`tokenize` reads such bytes back command by command, with the state a printer has (inside
raster mode ``b`` starts a raster line; outside it is text, which a Star Graphic printer does
not print), for the simulated printer and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.escpos.raster import Raster
from shared.escpos.star_tokens import StarParseError, StarToken
from shared.escpos.star_tokens import tokenize as line_tokenize

ESC, FF, NUL, EOT = 0x1B, 0x0C, 0x00, 0x04
ENTER, QUIT = b"\x1b*rA", b"\x1b*rB"
#: Raster line prefix ("Send raster data (auto line feed)").
LINE = b"b"
#: ``ESC * r E`` / ``ESC * r F`` values ("Set raster EOT mode" / "Set raster FF mode").
FORM_FEED_ONLY, FULL_CUT, PARTIAL_CUT = 1, 9, 13
#: The EOT/FF values that cut, and whether the cut is partial (the same tables in both).
CUTS: dict[int, bool] = {8: False, 9: False, 12: True, 13: True, 36: False, 37: False}
#: Largest ``n`` of ``ESC * r Y n NUL`` sent in one command (the spec's limit is 255 digits;
#: the peer encoder sends one command per line feed, so a small bound is safe everywhere).
MAX_MOVE = 255


def _numeric(letter: bytes, n: int) -> bytes:
    """``ESC * r <letter> n NUL`` with ``n`` in ASCII decimal."""
    return b"\x1b*r" + letter + str(n).encode("ascii") + b"\x00"


def enter() -> bytes:
    """``ESC * r A`` ("Enter raster mode")."""
    return ENTER


def quit_raster() -> bytes:
    """``ESC * r B`` ("Quit raster mode"; runs the EOT mode if raster data is buffered)."""
    return QUIT


def page_length(n: int = 0) -> bytes:
    """``ESC * r P n NUL`` ("Set raster page length"): 0 is continuous paper (no page)."""
    return _numeric(b"P", n)


def eot_mode(n: int) -> bytes:
    """``ESC * r E n NUL`` ("Set raster EOT mode"): the end-of-document feed and cut."""
    return _numeric(b"E", n)


def ff_mode(n: int) -> bytes:
    """``ESC * r F n NUL`` ("Set raster FF mode"): what ``ESC FF NUL`` does."""
    return _numeric(b"F", n)


def form_feed() -> bytes:
    """``ESC FF NUL`` (execute the FF mode): print the buffer, then the FF mode's feed and cut."""
    return bytes((ESC, FF, NUL))


def move(dots: int) -> bytes:
    """``ESC * r Y n NUL`` (raster vertical move) for ``dots`` white lines, in
    commands of at most :data:`MAX_MOVE`."""
    out = bytearray()
    while dots > 0:
        step = min(dots, MAX_MOVE)
        out += _numeric(b"Y", step)
        dots -= step
    return bytes(out)


def cut(partial: bool = False) -> bytes:
    """Feed past the cutter and cut: FF mode 9 (full) or 13 (partial), then ``ESC FF NUL``."""
    return ff_mode(PARTIAL_CUT if partial else FULL_CUT) + form_feed()


def start() -> bytes:
    """Enter raster mode on continuous paper, with an EOT mode that only feeds (no cut)."""
    return enter() + page_length(0) + eot_mode(FORM_FEED_ONLY)


def raster_lines(raster: Raster) -> bytes:
    """The raster as ``b n1 n2 d...`` lines, each without its trailing white bytes; runs of
    white lines as ``ESC * r Y``."""
    out, white = bytearray(), 0
    for y in range(raster.height):
        row = raster.row(y).rstrip(b"\x00")
        if not row:
            white += 1
            continue
        out += move(white)
        white = 0
        out += LINE + bytes((len(row) & 0xFF, len(row) >> 8)) + row
    return bytes(out + move(white))


@dataclass(frozen=True)
class _Shape:
    """A raster command's leading bytes and how its arguments end."""

    name: str
    numeric: bool


#: Raster-mode commands -> name; ``numeric``: an ASCII number then NUL follows.
RASTER_COMMANDS: dict[bytes, _Shape] = {
    ENTER: _Shape("raster_enter", False),
    QUIT: _Shape("raster_quit", False),
    b"\x1b*rC": _Shape("raster_clear", False),
    b"\x1b*rR": _Shape("raster_initialize", False),
    b"\x1b*rP": _Shape("raster_page_length", True),
    b"\x1b*rE": _Shape("raster_eot_mode", True),
    b"\x1b*rF": _Shape("raster_ff_mode", True),
    b"\x1b*rY": _Shape("raster_move", True),
    b"\x1b*rQ": _Shape("raster_quality", True),
    b"\x1b*rT": _Shape("raster_top_margin", True),
    b"\x1b*rml": _Shape("raster_left_margin", True),
    b"\x1b*rmr": _Shape("raster_right_margin", True),
    b"\x1b*rN": _Shape("raster_discard", True),
    b"\x1b\x0c\x00": _Shape("raster_form_feed", False),
    b"\x1b\x0c\x04": _Shape("raster_eot", False),
}
_RASTER_PREFIXES = sorted(RASTER_COMMANDS, key=len, reverse=True)
#: Real-time requests a printer answers in raster mode too (the Line Mode tokenizer's names).
REQUESTS: dict[bytes, tuple[str, int]] = {
    b"\x1b\x06\x01": ("asb_request", 0),
    b"\x1b\x1ea": ("asb_setting", 1),
    b"\x05": ("enq", 0),
    b"\x04": ("eot", 0),
    b"\x1b#*\n\x00": ("version_request", 0),
}
_REQUEST_PREFIXES = sorted(REQUESTS, key=len, reverse=True)
_ALL_PREFIXES = (*_RASTER_PREFIXES, *_REQUEST_PREFIXES)
_LONGEST = max(len(p) for p in _ALL_PREFIXES)


class _Short(Exception):
    """The command at hand needs more bytes than there are."""


def _numeric_token(data: bytes, at: int, prefix: bytes, name: str) -> StarToken:
    end = data.find(b"\x00", at + len(prefix))
    if end < 0:
        raise _Short
    digits = data[at + len(prefix) : end]
    if not digits.isdigit():
        raise StarParseError(f"{name} at byte {at}: {digits!r} is not an ASCII number")
    return StarToken(name, (int(digits),), b"", at, end + 1)


def _raster_token(data: bytes, at: int) -> StarToken:
    """The command at ``at`` inside raster mode."""
    if data.startswith(LINE, at):
        if at + 3 > len(data):
            raise _Short
        count = data[at + 1] | data[at + 2] << 8
        end = at + 3 + count
        if end > len(data):
            raise _Short
        return StarToken("raster_line", (count,), data[at + 3 : end], at, end)
    for prefix in (*_RASTER_PREFIXES, *_REQUEST_PREFIXES):
        if data.startswith(prefix, at):
            return _known(data, at, prefix)
    rest = data[at : at + _LONGEST]
    if len(rest) < _LONGEST and any(p.startswith(rest) for p in _ALL_PREFIXES):
        raise _Short  # the start of a command cut off at the end of the bytes
    return StarToken("raster_unknown", (data[at],), b"", at, at + 1)


def _known(data: bytes, at: int, prefix: bytes) -> StarToken:
    if prefix in REQUESTS:
        name, count = REQUESTS[prefix]
        end = at + len(prefix) + count
        if end > len(data):
            raise _Short
        return StarToken(name, tuple(data[at + len(prefix) : end]), b"", at, end)
    shape = RASTER_COMMANDS[prefix]
    if shape.numeric:
        return _numeric_token(data, at, prefix, shape.name)
    return StarToken(shape.name, (), b"", at, at + len(prefix))


def _outside(data: bytes, at: int, final: bool) -> tuple[list[StarToken], int]:
    """Line Mode tokens from ``at`` up to the next ``ESC * r A`` (or the end)."""
    found = data.find(ENTER, at)
    stop = len(data) if found < 0 else found
    if found < 0:
        # The end may hold the start of ESC * r A: keep it for the next chunk.
        for size in range(len(ENTER) - 1, 0, -1):
            if data.endswith(ENTER[:size]) and len(data) - size >= at:
                stop = len(data) - size
                break
    tokens, used = line_tokenize(data[at:stop], final=final and found < 0 and stop == len(data))
    shifted = [StarToken(t.name, t.args, t.payload, t.start + at, t.end + at) for t in tokens]
    if found >= 0 and at + used < found:
        # A Line Mode command cut short by ESC * r A: its bytes are read as control bytes.
        shifted += [
            StarToken("control", (data[i],), b"", i, i + 1) for i in range(at + used, found)
        ]
        used = found - at
    return shifted, at + used


def tokenize(
    data: bytes, *, final: bool = True, in_raster: bool = False
) -> tuple[list[StarToken], int, bool]:
    """The commands in ``data``, how many bytes they cover and whether raster mode is on after.

    Outside raster mode the bytes are read as Line Mode (shared.escpos.star_tokens) until an
    ``ESC * r A``; inside it as raster commands until ``ESC * r B``. With ``final=False`` a
    command cut short at the end is left unread (the offset says where it starts).
    """
    tokens: list[StarToken] = []
    at = 0
    while at < len(data):
        if not in_raster:
            found, at = _outside(data, at, final)
            tokens += found
            if not data.startswith(ENTER, at):
                if final and at < len(data):
                    raise StarParseError(f"bytes end inside a command at byte {at}")
                break
        try:
            token = _raster_token(data, at)
        except _Short:
            if final:
                raise StarParseError(f"bytes end inside a raster command at byte {at}") from None
            break
        tokens.append(token)
        at = token.end
        in_raster = token.name != "raster_quit"
    return tokens, at, in_raster


def names(data: bytes) -> list[str]:
    """The command names in ``data``, in order."""
    return [token.name for token in tokenize(data)[0]]


def line_raster(token: StarToken, width: int) -> Raster:
    """One ``raster_line`` token as a one-row raster ``width`` dots wide (white past its data)."""
    row_bytes = (width + 7) // 8
    row = token.payload[:row_bytes].ljust(row_bytes, b"\x00")
    return Raster(width, 1, row)
