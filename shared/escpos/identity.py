"""Printer identity: the ``GS I n`` queries and what their replies mean (sans-IO).

Theory of operation (Epson ESC/POS command reference, ``GS I``, "Transmit printer ID").
``GS I n`` (0x1D 0x49 n) is an ordinary command, not a real-time one: the printer answers it
when it processes its receive buffer, so a printer that is offline, or one that does not know
the command, stays silent. Two reply formats:

=========== ==================== =========================================================
 n          name                 reply
=========== ==================== =========================================================
 1, 49      printer model ID     one byte, pattern ``0xx0xxxx`` (bits 4 and 7 off)
 2, 50      type ID              one byte, same pattern: bit 0 multi-byte characters, bit 1
                                 autocutter installed, bit 2 customer display (DM-D)
 3, 51      version ID           one byte, same pattern; model dependent
 65 ('A')   firmware version     "printer information B": ``0x5F`` (``_``), 0-80 bytes of
 66 ('B')   maker name           text, ``NUL``. ``_ NUL`` alone means the printer cannot
 67 ('C')   model name           give that information.
 68 ('D')   serial number
 69 ('E')   font of language     e.g. "KANJI JAPANESE", "CHINA GB18030"
=========== ==================== =========================================================

Bits 4 and 7 tell a one-byte ID from a ``DLE EOT`` status byte (``0xx1xx10``) and from the
first byte of an ASB packet (bit 4 on as well). A printer-information-B reply starts with
``0x5F``, which has bit 0 set and so is never a status byte. Not every model answers every
``n`` (the TM-T20III does not answer ``n = 3``): an unanswered query is "not known", never an
error. A :class:`IdentityParser` is fed the bytes that arrive after one query and says when
the reply is complete; :class:`PrinterIdentity` gathers what the answers said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import IntEnum, IntFlag
from typing import Any

GS = 0x1D
HEADER_B = 0x5F
NUL = 0x00
#: Longest text of a printer-information-B reply (Epson: 0 to 80 bytes).
MAX_INFO_B = 80
#: Bits 4 and 7 of a one-byte printer ID are off.
ID_FIXED_MASK = 0b1001_0000


class IdKind(IntEnum):
    """The ``n`` of ``GS I n`` this module asks for."""

    MODEL_ID = 1
    TYPE_ID = 2
    VERSION_ID = 3
    FIRMWARE = 65
    MAKER = 66
    MODEL = 67
    SERIAL = 68
    LANGUAGE_FONT = 69


#: One-byte answers; the others are printer information B (``_ ... NUL``).
ONE_BYTE_KINDS = frozenset({IdKind.MODEL_ID, IdKind.TYPE_ID, IdKind.VERSION_ID})
#: The order the agent asks in: the names first (they drive the profile and the id).
IDENTITY_QUERY_KINDS = (
    IdKind.MODEL,
    IdKind.MAKER,
    IdKind.SERIAL,
    IdKind.FIRMWARE,
    IdKind.TYPE_ID,
    IdKind.MODEL_ID,
)


class TypeBit(IntFlag):
    """Bits of the type ID (``GS I 2``)."""

    MULTI_BYTE = 0x01
    AUTOCUTTER = 0x02
    CUSTOMER_DISPLAY = 0x04


def identity_query(kind: IdKind | int) -> bytes:
    """The three bytes of ``GS I n``."""
    n = int(kind)
    if not (1 <= n <= 3 or 49 <= n <= 51 or 65 <= n <= 69):
        raise ValueError(f"GS I {n} is not an identity query this module knows")
    return bytes((GS, 0x49, n))


def is_id_byte(value: int) -> bool:
    """Whether ``value`` fits a one-byte printer ID (``0xx0xxxx``)."""
    return 0 <= value <= 0xFF and value & ID_FIXED_MASK == 0


_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def clean_text(raw: bytes) -> str | None:
    """Printer-information-B text as a clean string (None when empty: "cannot tell")."""
    text = _PRINTABLE.sub("", raw.decode("latin-1")).strip()
    return text or None


class IdentityParser:
    """Reads the reply to one ``GS I n`` from bytes fed as they arrive.

    Bytes before the reply's start (late status replies, ASB packets) are skipped. ``done``
    turns true with the reply; ``value`` is the byte (one-byte kinds) or the text (None for an
    empty ``_ NUL``). A reply longer than Epson's limit ends the parse with no value.
    """

    def __init__(self, kind: IdKind) -> None:
        self.kind = kind
        self.done = False
        self.value: int | str | None = None
        self._text: bytearray | None = None

    def feed(self, data: bytes) -> bytes:
        """Take ``data``; the bytes after the end of the reply (for whoever reads next)."""
        for i, byte in enumerate(data):
            if self.done:
                return data[i:]
            self._take(byte)
        return b""

    def _take(self, byte: int) -> None:
        if self.kind in ONE_BYTE_KINDS:
            if is_id_byte(byte):
                self.value, self.done = byte, True
            return
        if self._text is None:
            if byte == HEADER_B:
                self._text = bytearray()
            return
        if byte == NUL:
            self.value, self.done = clean_text(bytes(self._text)), True
        elif len(self._text) >= MAX_INFO_B:
            self.value, self.done = None, True
        else:
            self._text.append(byte)


def parse_reply(kind: IdKind, data: bytes) -> int | str | None:
    """The value in a complete reply to ``GS I kind`` (None when there is none)."""
    parser = IdentityParser(kind)
    parser.feed(data)
    return parser.value if parser.done else None


@dataclass(frozen=True)
class PrinterIdentity:
    """What a printer said about itself; None where it did not answer."""

    model: str | None = None
    manufacturer: str | None = None
    serial: str | None = None
    firmware: str | None = None
    language_font: str | None = None
    model_id: int | None = None
    type_id: int | None = None
    version_id: int | None = None

    @property
    def answered(self) -> bool:
        """Whether the printer answered any question."""
        return any(value is not None for value in vars(self).values())

    @property
    def autocutter(self) -> bool | None:
        """Whether the type ID says an autocutter is installed (None: not answered)."""
        return None if self.type_id is None else bool(self.type_id & TypeBit.AUTOCUTTER)

    @property
    def multi_byte(self) -> bool | None:
        """Whether the type ID says multi-byte (Kanji, GB18030) characters are supported."""
        return None if self.type_id is None else bool(self.type_id & TypeBit.MULTI_BYTE)

    def with_answer(self, kind: IdKind, value: int | str | None) -> PrinterIdentity:
        """This identity with the answer to ``GS I kind`` recorded."""
        if value is None:
            return self
        field_name = _FIELDS[kind]
        if (kind in ONE_BYTE_KINDS) != isinstance(value, int):
            raise TypeError(
                f"GS I {int(kind)} answers a {'byte' if kind in ONE_BYTE_KINDS else 'text'}"
            )
        changes: dict[str, Any] = {field_name: value}
        return replace(self, **changes)


_FIELDS: dict[IdKind, str] = {
    IdKind.MODEL_ID: "model_id",
    IdKind.TYPE_ID: "type_id",
    IdKind.VERSION_ID: "version_id",
    IdKind.FIRMWARE: "firmware",
    IdKind.MAKER: "manufacturer",
    IdKind.MODEL: "model",
    IdKind.SERIAL: "serial",
    IdKind.LANGUAGE_FONT: "language_font",
}


def identity_from_replies(replies: dict[IdKind, bytes]) -> PrinterIdentity:
    """The identity in a set of complete replies (what was unanswered stays None)."""
    identity = PrinterIdentity()
    for kind, data in replies.items():
        identity = identity.with_answer(kind, parse_reply(kind, data))
    return identity


def info_b_reply(text: str | None) -> bytes:
    """A printer-information-B reply as a printer sends it (``_ NUL`` for "cannot tell")."""
    body = (text or "").encode("ascii", "replace")[:MAX_INFO_B]
    return bytes((HEADER_B,)) + body + bytes((NUL,))
