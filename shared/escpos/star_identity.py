"""Star printer identity: ``ESC # * LF NUL`` ("inquire printer version") and its reply (sans-IO).

Theory of operation. Star Line Mode Command Specifications, 3-87 "ESC # * LF NUL, Inquire
printer version" (bytes ``1B 23 2A 0A 00``): the printer "sends printer version" as
``ESC # * , printer version LF NUL``; Star's example, an HSP7000 Ver. 1.0, answers
``ESC # * , "HSP7000 Ver. 1.0" LF NUL``. Open code that reads it the same way:
NielsLeenheer/ReceiptPrinterStatus (src/main.js) sends ``1B 23 2A 0A 00`` to Star Line and
StarPRNT printers, takes a reply starting ``1B 23 2A 2C`` up to ``LF NUL``, and reads the model
as what comes before ``Ver<digits>`` (``TSP143IIIL Ver1.2`` style, no space after "Ver").

The text is printable ASCII. A printer with automatic status on (``ESC RS a 1``, which the
agent sends at first contact) sends an ASB by itself whenever its status changes, so one may
come before the reply or, in principle, inside it. ASB bytes follow shared.escpos.star's
length rules (header 1 gives the length, header 2 bit 7 a 2-byte extension length), so a
packet is skipped whole: before the reply wherever a header 1 fits, inside the text where a
byte that cannot be text (a control byte) shows one (an ASB header 1 may itself be printable:
``0x23`` "#" is the usual 9-byte one, then header 2 is a control byte). Other junk bytes are
dropped. The text is bounded (:data:`MAX_VERSION_TEXT`) and so is everything read for one
reply (:data:`MAX_REPLY_BYTES`); past either the parse ends without a value. "Ver" may be
missing (then the whole text is the model), spelled ``Ver.`` or followed by a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.escpos.identity import PrinterIdentity
from shared.escpos.star import HEADER2_EXTENDED, MAX_EXTENSION, asb_length, is_asb_header

ESC, LF, NUL = 0x1B, 0x0A, 0x00
#: ``ESC # * LF NUL``: send the printer version.
VERSION_REQUEST = b"\x1b#*\n\x00"
#: What the reply starts with: ``ESC # * ,``.
REPLY_HEADER = b"\x1b#*,"
#: The longest version text taken (Star gives no limit; model and version are ~20 bytes).
MAX_VERSION_TEXT = 80
#: The most bytes read for one reply, ASB packets before it included (an extended LAN ASB
#: is up to 15 + 2 + 512 bytes).
MAX_REPLY_BYTES = 2048
#: The maker every Star printer's identity names.
STAR_MANUFACTURER = "Star Micronics"

#: "Ver" then a digit ends the model, with or without a space before it (ReceiptPrinterStatus
#: matches ``^(.*)Ver[0-9.]+$`` and names the mPOP by the model text ``POP10``).
_VERSION = re.compile(r"^(?P<model>.*?)\s*(?:Ver\.?\s*(?P<version>\d\S*))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class StarVersion:
    """What the printer said: its model and firmware version (None where the text lacks it)."""

    text: str
    model: str | None
    firmware: str | None


def split_version(text: str) -> StarVersion:
    """``TSP143IIIL Ver1.2`` → model ``TSP143IIIL``, firmware ``1.2``; no "Ver": all model."""
    clean = " ".join(text.split())
    match = _VERSION.match(clean)
    model = match.group("model") if match else clean
    version = match.group("version") if match else None
    return StarVersion(text=clean, model=model or None, firmware=version or None)


def _packet_size(buf: bytes, at: int) -> int | None:
    """The size of the ASB starting at ``at``; None until enough bytes are here to know it."""
    base = asb_length(buf[at])
    if len(buf) < at + base:
        return None
    if not buf[at + 1] & HEADER2_EXTENDED:
        return base
    if len(buf) < at + base + 2:
        return None
    return base + 2 + min(int.from_bytes(buf[at + base : at + base + 2], "big"), MAX_EXTENSION)


def _clean_asb(buf: bytes, at: int) -> bool:
    """Header 2 and the status bytes keep their fixed bits clear (as shared.escpos.star)."""
    length = asb_length(buf[at])
    body = buf[at + 2 : at + length]
    return not buf[at + 1] & 0x11 and all(not b & 0x91 for b in body)


class _More(Exception):
    """The bytes so far end inside something: wait for more."""


def _skip_asb(buf: bytes, at: int) -> int | None:
    """Where the ASB at ``at`` ends (None: no clean ASB there). ``_More`` when cut short."""
    if not is_asb_header(buf[at]):
        return None
    size = _packet_size(buf, at)
    if size is None or len(buf) < at + size:
        raise _More
    return at + size if _clean_asb(buf, at) else None


def _find_header(buf: bytes) -> int:
    """Where the reply header starts, ASB packets and junk before it skipped."""
    at = 0
    while at < len(buf):
        if buf.startswith(REPLY_HEADER, at):
            return at
        if REPLY_HEADER.startswith(buf[at:]):
            raise _More
        end = _skip_asb(buf, at)
        at = end if end is not None else at + 1
    raise _More


@dataclass(frozen=True)
class _Scan:
    """One parse of everything received: the text (None: too long) and the bytes it used."""

    text: str | None
    end: int


def _read_text(buf: bytes, at: int) -> _Scan:
    """The text from ``at`` to ``LF`` (a ``NUL`` right after it is the reply's too)."""
    text = bytearray()
    last = -1  # where the last text byte was
    while at < len(buf):
        byte = buf[at]
        if byte in (LF, NUL):
            end = at + 1
            if byte == LF and end < len(buf) and buf[end] == NUL:
                end += 1
            return _Scan(text.decode("ascii"), end)
        if 0x20 <= byte <= 0x7E:
            if len(text) >= MAX_VERSION_TEXT:
                return _Scan(None, at)
            text.append(byte)
            last, at = at, at + 1
            continue
        # Not text: an ASB inside the reply (its header 1 may be the last "text" byte) or junk.
        inside = _skip_asb(buf, last) if last == at - 1 else None
        if inside is not None:
            text.pop()
            at = inside
        else:
            after = _skip_asb(buf, at)
            at = after if after is not None else at + 1
    raise _More


class StarVersionParser:
    """Reads the reply to one ``ESC # * LF NUL`` from bytes fed as they arrive.

    ``done`` turns true with the reply's end (``LF``, or a ``NUL`` standing for it) or when
    the reply breaks the bounds; ``value`` is then what it said (None: nothing usable).
    """

    def __init__(self) -> None:
        self.done = False
        self.value: StarVersion | None = None
        self._buffer = b""
        #: The reply ended at a ``LF`` that was the last byte read: its ``NUL`` may follow.
        self._nul_may_follow = False

    def feed(self, data: bytes) -> bytes:
        """Take ``data``; the bytes after the end of the reply (for whoever reads next)."""
        if self.done:
            if self._nul_may_follow and data:
                self._nul_may_follow = False
                return data[1:] if data[0] == NUL else data
            return data
        buf = self._buffer = self._buffer + data
        try:
            start = _find_header(buf)
            scan = _read_text(buf, start + len(REPLY_HEADER))
        except _More:
            if len(buf) > MAX_REPLY_BYTES:
                self.done, self._buffer = True, b""
            return b""
        self.done, self._buffer = True, b""
        self._nul_may_follow = scan.end == len(buf) and buf[-1] == LF
        if scan.text is not None and (said := split_version(scan.text)).text:
            self.value = said
        return buf[scan.end :] if scan.text is not None else b""


def parse_version_reply(data: bytes) -> StarVersion | None:
    """What a complete reply to ``ESC # * LF NUL`` says (None: no usable reply in ``data``)."""
    parser = StarVersionParser()
    parser.feed(data)
    return parser.value


def star_identity(version: StarVersion | None) -> PrinterIdentity:
    """The identity a version reply gives: model, firmware, maker (empty without a reply)."""
    if version is None:
        return PrinterIdentity()
    return PrinterIdentity(
        model=version.model[:200] if version.model else None,
        firmware=version.firmware[:200] if version.firmware else None,
        manufacturer=STAR_MANUFACTURER,
    )


def version_reply(text: str) -> bytes:
    """The reply a printer sends for ``text`` (for simulators and tests)."""
    body = text.encode("ascii", "replace")[:MAX_VERSION_TEXT]
    return REPLY_HEADER + body + bytes((LF, NUL))
