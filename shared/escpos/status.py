"""Real-time status: the ``DLE EOT n`` queries and what the one-byte replies mean.

Theory of operation. An ESC/POS printer answers ``DLE EOT n`` (0x10 0x04 n) in real time,
even while offline or with its cover open, with exactly one byte:

====  ================  ===========================================================
 n    reply             bits used here (Epson ESC/POS command reference)
====  ================  ===========================================================
 1    printer status    2 drawer pin 3 high, 3 offline, 5 waiting for online
                        recovery, 6 paper feed button pressed
 2    offline cause     2 cover open, 3 paper fed by the feed button, 5 printing
                        stopped by paper end, 6 an error occurred
 3    error cause       2 mechanical error, 3 autocutter error, 5 unrecoverable
                        error, 6 auto-recoverable error
 4    paper sensor      2-3 roll paper near end, 5-6 roll paper end
====  ================  ===========================================================

Every reply has the fixed pattern ``0xx1xx10`` (bit 0 = 0, bit 1 = 1, bit 4 = 1, bit 7 = 0).
A byte that does not fit it is not a status reply (an ASB packet, line noise, some other
service listening on port 9100) and counts as no reply at all.

:func:`parse_status` is a pure function from the four replies (``None`` where the printer did
not answer) to a :class:`~shared.printers.PrinterStatus`. Without a valid reply to
``DLE EOT 1`` the state is ``unknown``: we never claim a printer is online without its word.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, IntFlag

from shared.printers import PrinterState, PrinterStatus

DLE = 0x10
EOT = 0x04

#: Bits 0, 1, 4 and 7 of every status reply are fixed ...
FIXED_MASK = 0b1001_0011
#: ... to 0, 1, 1 and 0 respectively: a reply with no condition set is 0x12.
FIXED_VALUE = 0b0001_0010

#: One reply, as read from the transport: an int, a one-byte ``bytes``, or ``None`` (no reply).
StatusReply = int | bytes | None


class StatusKind(IntEnum):
    """The ``n`` of ``DLE EOT n``: which status byte is asked for."""

    PRINTER = 1
    OFFLINE_CAUSE = 2
    ERROR_CAUSE = 3
    PAPER_SENSOR = 4


class PrinterBit(IntFlag):
    """Bits of the ``DLE EOT 1`` reply."""

    #: Wiring-dependent; with most cash drawers pin 3 goes high when the drawer is open.
    DRAWER_PIN3_HIGH = 0x04
    OFFLINE = 0x08
    WAITING_ONLINE_RECOVERY = 0x20
    FEED_BUTTON_PRESSED = 0x40


class OfflineBit(IntFlag):
    """Bits of the ``DLE EOT 2`` reply."""

    COVER_OPEN = 0x04
    FEEDING_BY_BUTTON = 0x08
    PAPER_END_STOP = 0x20
    ERROR = 0x40


class ErrorBit(IntFlag):
    """Bits of the ``DLE EOT 3`` reply."""

    MECHANICAL = 0x04
    AUTOCUTTER = 0x08
    UNRECOVERABLE = 0x20
    AUTO_RECOVERABLE = 0x40


class PaperBit(IntFlag):
    """Bits of the ``DLE EOT 4`` reply; each condition is reported on two bits."""

    NEAR_END = 0x0C
    END = 0x60


_ANY_ERROR = (
    ErrorBit.MECHANICAL | ErrorBit.AUTOCUTTER | ErrorBit.UNRECOVERABLE | ErrorBit.AUTO_RECOVERABLE
)

STATUS_QUERY_KINDS: tuple[StatusKind, ...] = tuple(StatusKind)


def status_query(kind: StatusKind | int) -> bytes:
    """The three bytes ``DLE EOT n`` asking for one status byte."""
    return bytes((DLE, EOT, StatusKind(kind)))


def status_queries() -> bytes:
    """The four queries ``DLE EOT 1`` .. ``DLE EOT 4`` back to back."""
    return b"".join(status_query(kind) for kind in STATUS_QUERY_KINDS)


ALL_STATUS_QUERIES = status_queries()


def is_status_byte(value: int) -> bool:
    """True when ``value`` fits the fixed bit pattern of a status reply."""
    return 0 <= value <= 0xFF and value & FIXED_MASK == FIXED_VALUE


def status_byte(flags: int = 0) -> int:
    """The reply byte a printer sends with ``flags`` set (for simulators and tests)."""
    if flags & FIXED_MASK or not 0 <= flags <= 0xFF:
        raise ValueError(f"flags {flags:#04x} touch the fixed bits of a status byte")
    return FIXED_VALUE | flags


def valid_reply(reply: StatusReply) -> int | None:
    """The reply as an int, or None when it is missing or not a status byte."""
    if isinstance(reply, bytes):
        if len(reply) != 1:
            return None
        reply = reply[0]
    if reply is None or not is_status_byte(reply):
        return None
    return reply


def _has(reply: int | None, bits: int) -> bool:
    """True when any of ``bits`` is set in a valid reply."""
    return reply is not None and bool(reply & bits)


# Worst condition first: the summary state is the first one that holds (ONLINE otherwise).
_STATE_PRIORITY: tuple[tuple[str, PrinterState], ...] = (
    ("error", PrinterState.ERROR),
    ("cover_open", PrinterState.COVER_OPEN),
    ("paper_out", PrinterState.PAPER_OUT),
    ("offline", PrinterState.OFFLINE),
    ("paper_near_end", PrinterState.PAPER_NEAR_END),
)

_DETAIL_MAX = 200  # PrinterStatus.detail is ShortText

# (flag name, human text) in the order they appear in ``detail``.
_DETAIL_TEXT: tuple[tuple[str, str], ...] = (
    ("unrecoverable_error", "unrecoverable error"),
    ("mechanical_error", "mechanical error"),
    ("autocutter_error", "autocutter error"),
    ("auto_recoverable_error", "auto-recoverable error"),
    ("error", "error"),
    ("cover_open", "cover open"),
    ("paper_out", "paper end"),
    ("paper_near_end", "paper near end"),
    ("offline", "offline"),
    ("waiting_online_recovery", "waiting for online recovery"),
    ("feed_button_pressed", "feed button pressed"),
)


def _flags(p: int | None, o: int | None, e: int | None, s: int | None) -> dict[str, bool]:
    """Every condition the four valid replies report, by name."""
    flags = {
        "offline": _has(p, PrinterBit.OFFLINE),
        "waiting_online_recovery": _has(p, PrinterBit.WAITING_ONLINE_RECOVERY),
        "feed_button_pressed": _has(p, PrinterBit.FEED_BUTTON_PRESSED)
        or _has(o, OfflineBit.FEEDING_BY_BUTTON),
        "drawer_open": _has(p, PrinterBit.DRAWER_PIN3_HIGH),
        "cover_open": _has(o, OfflineBit.COVER_OPEN),
        "paper_out": _has(o, OfflineBit.PAPER_END_STOP) or _has(s, PaperBit.END),
        "paper_near_end": _has(s, PaperBit.NEAR_END),
        "mechanical_error": _has(e, ErrorBit.MECHANICAL),
        "autocutter_error": _has(e, ErrorBit.AUTOCUTTER),
        "unrecoverable_error": _has(e, ErrorBit.UNRECOVERABLE),
        "auto_recoverable_error": _has(e, ErrorBit.AUTO_RECOVERABLE),
    }
    flags["error"] = _has(o, OfflineBit.ERROR) or _has(e, _ANY_ERROR)
    return flags


def _summary(flags: dict[str, bool], answered: bool) -> PrinterState:
    """The one-word state: unknown without a printer-status reply, else the worst condition."""
    if not answered:
        return PrinterState.UNKNOWN
    return next((state for name, state in _STATE_PRIORITY if flags[name]), PrinterState.ONLINE)


def _detail(flags: dict[str, bool], missing: list[StatusKind]) -> str | None:
    """A short human summary of the conditions and of the queries left unanswered."""
    parts = [text for name, text in _DETAIL_TEXT if flags[name]]
    if flags["error"] and len(parts) > 1:
        parts.remove("error")
    if len(missing) == len(STATUS_QUERY_KINDS):
        return "no reply from printer"
    parts += [f"no reply to DLE EOT {int(kind)}" for kind in missing]
    return "; ".join(parts)[:_DETAIL_MAX] or None


def parse_status(
    printer: StatusReply,
    offline_cause: StatusReply = None,
    error_cause: StatusReply = None,
    paper_sensor: StatusReply = None,
    *,
    checked_at: datetime | None = None,
) -> PrinterStatus:
    """Turn the replies to ``DLE EOT 1..4`` (None: no reply) into a typed status."""
    replies = [valid_reply(r) for r in (printer, offline_cause, error_cause, paper_sensor)]
    p, o, e, s = replies
    flags = _flags(p, o, e, s)
    missing = [k for k, r in zip(STATUS_QUERY_KINDS, replies, strict=True) if r is None]
    return PrinterStatus(
        state=_summary(flags, answered=p is not None),
        online=None if p is None else not flags["offline"],
        cover_open=flags["cover_open"],
        paper_near_end=flags["paper_near_end"],
        paper_out=flags["paper_out"],
        feed_button_pressed=flags["feed_button_pressed"],
        drawer_open=flags["drawer_open"],
        recoverable_error=flags["mechanical_error"]
        or flags["autocutter_error"]
        or flags["auto_recoverable_error"],
        unrecoverable_error=flags["unrecoverable_error"],
        autocutter_error=flags["autocutter_error"],
        detail=_detail(flags, missing),
        checked_at=checked_at,
    )
