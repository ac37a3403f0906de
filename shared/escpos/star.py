"""Star status without I/O: the automatic status (ASB) and the ``ENQ`` reply, bit by bit.

Theory of operation (Star Line Mode and StarPRNT command specifications, appendix "Status
specifications"). A Star printer in Star mode does not answer ESC/POS ``DLE EOT n``. It reports:

* **ASB**, the automatic status: sent by itself whenever its status changes once enabled with
  ``ESC RS a n`` (n bit 0 = ASB valid), and on request with ``ESC ACK SOH`` whether enabled or
  not. A packet is ``header 1``, ``header 2``, then printer status bytes:

  ==========  ============================================================================
  byte        bits used here
  ==========  ============================================================================
  header 1    ``0xx0xxx1``: bits 1-3 and 5 are the packet's length in bytes (header 1
              included): ``((h >> 2) & 8) | ((h >> 1) & 7)``; 7 (0x0F) and 9 (0x23) are usual
  header 2    bits 1-3, 5 and 6: the ASB version; bit 7 set (Ethernet and wireless LAN):
              a 2-byte big-endian length and that many bytes of further status data follow
  status 1    6 offline by switch input, 5 cover open, 3 offline, 2 drawer (compulsion
              switch) closed, 1 ETB executed
  status 2    6 stopped by high head temperature, 5 non-recoverable error, 3 auto-cutter
              error, 2 mechanical error
  status 3    6 receive buffer overflow, 5 command error, 3 black mark error, 2 presenter
              paper jam, 1 head up error
  status 4    3 paper end, 2 paper near end (inner sensor), 1 paper near end (outer sensor)
  status 5    slip and validation sensors (not used here)
  status 6    the ETB counter: bits 1-3 are its bits 0-2, bits 5-6 its bits 3-4
  status 7    presenter paper position (not used here)
  ==========  ============================================================================

  Bits 0, 4 and 7 of every byte after header 1 are 0, which tells a packet's bytes from
  ``XON`` (0x11), ``XOFF`` (0x13) and the ``EOT`` reply (bit 4 = 1).

* the **ENQ reply**, one byte (bit 4 = 0), for printers or ports without ASB: 7 drawer
  (compulsion switch) closed, 6 receive buffer overflow, 5 receive buffer empty, 3 paper end,
  2 "other errors" (a non-recoverable error or the cover open: the byte does not say which),
  1 framing error, 0 parity error. Star's caution: ENQ is not used while ASB is enabled, so
  the agent asks ``ESC ACK SOH`` first and ``ENQ`` only when no ASB came back.

:class:`AsbFramer` cuts a byte stream into packets (split reads, noise before a header);
:func:`parse_asb` and :func:`parse_enq` are pure functions to a
:class:`~shared.printers.PrinterStatus`, like :func:`shared.escpos.status.parse_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag

from shared.printers import PrinterState, PrinterStatus

ESC, RS, ACK, SOH, ENQ, EOT = 0x1B, 0x1E, 0x06, 0x01, 0x05, 0x04

#: ``ESC ACK SOH``: send the automatic status now, whether ASB is enabled or not.
ASB_REQUEST = bytes((ESC, ACK, SOH))
#: ``ENQ``: send the one-byte ENQ status in real time.
ENQ_QUERY = bytes((ENQ,))
#: The shortest ASB the parser takes: headers, status 1 and status 2 (4 bytes, as Star's
#: oldest ASB version); paper sensors need 6.
MIN_ASB_LENGTH = 4
#: Bit 7 of header 2: a 2-byte length and further status data follow (LAN interfaces).
HEADER2_EXTENDED = 0x80
#: The most extended status data the specification allows (Length <= 0x0200).
MAX_EXTENSION = 0x0200


def enable_asb(on: bool = True) -> bytes:
    """``ESC RS a n``: automatic status valid (n = 1) or invalid (n = 0); NSB stays off."""
    return bytes((ESC, RS, ord("a"), 1 if on else 0))


class Status1(IntFlag):
    """Printer status 1, the third byte of an ASB."""

    ETB_EXECUTED = 0x02
    DRAWER_CLOSED = 0x04
    OFFLINE = 0x08
    COVER_OPEN = 0x20
    OFFLINE_BY_SWITCH = 0x40


class Status2(IntFlag):
    """Printer status 2 (error information), the fourth byte."""

    MECHANICAL_ERROR = 0x04
    AUTOCUTTER_ERROR = 0x08
    UNRECOVERABLE_ERROR = 0x20
    HIGH_HEAD_TEMPERATURE = 0x40


class Status3(IntFlag):
    """Printer status 3 (error information), the fifth byte."""

    HEAD_UP_ERROR = 0x02
    PRESENTER_PAPER_JAM = 0x04
    BLACK_MARK_ERROR = 0x08
    COMMAND_ERROR = 0x20
    RECEIVE_BUFFER_OVERFLOW = 0x40


class Status4(IntFlag):
    """Printer status 4 (sensor information), the sixth byte."""

    NEAR_END_OUTER = 0x02
    NEAR_END_INNER = 0x04
    PAPER_END = 0x08


class EnqBit(IntFlag):
    """Bits of the ENQ reply."""

    PARITY_ERROR = 0x01
    FRAMING_ERROR = 0x02
    OTHER_ERROR = 0x04
    PAPER_END = 0x08
    BUFFER_EMPTY = 0x20
    BUFFER_OVERFLOW = 0x40
    DRAWER_CLOSED = 0x80


def is_asb_header(value: int) -> bool:
    """Whether ``value`` fits header 1 (``0xx0xxx1``) and names a usable length."""
    return value & 0x91 == 0x01 and asb_length(value) >= MIN_ASB_LENGTH


def asb_length(header1: int) -> int:
    """The packet length header 1 gives (bits 1-3 low, bit 5 high), header 1 included."""
    return ((header1 >> 2) & 0x08) | ((header1 >> 1) & 0x07)


def length_header(length: int) -> int:
    """Header 1 for a packet of ``length`` bytes (for simulators and tests)."""
    if not MIN_ASB_LENGTH <= length <= 15:
        raise ValueError(f"an ASB is {MIN_ASB_LENGTH} to 15 bytes long, not {length}")
    return 0x01 | ((length & 0x07) << 1) | ((length & 0x08) << 2)


def is_status_body_byte(value: int) -> bool:
    """Bits 0, 4 and 7 of every ASB byte after header 1 are 0."""
    return value & 0x91 == 0


def _clean_body(packet: bytes) -> bool:
    """Header 2 has bits 0 and 4 clear (bit 7 flags the LAN extension); status bytes 0, 4, 7."""
    length = asb_length(packet[0])
    return not packet[1] & 0x11 and all(is_status_body_byte(b) for b in packet[2:length])


def is_enq_reply(value: int) -> bool:
    """The ENQ reply has bit 4 = 0 (XON, XOFF and the EOT reply have it set)."""
    return 0 <= value <= 0xFF and not value & 0x10


def etb_counter(status6: int) -> int:
    """The 5-bit ETB counter in printer status 6 (bits 1-3, then 5-6)."""
    return ((status6 >> 1) & 0x07) | ((status6 >> 2) & 0x18)


@dataclass
class AsbFramer:
    """Cuts received bytes into ASB packets; a packet split across reads waits for the rest.

    Bytes before a header 1 (XON/XOFF, stale replies) are skipped; a "packet" whose body breaks
    the fixed-bit rule is dropped from its header on, and framing starts again after it.
    """

    _buffer: bytearray | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """The complete packets in what has been received so far."""
        buf = self._buffer = (self._buffer or bytearray()) + data
        packets: list[bytes] = []
        while buf:
            if not is_asb_header(buf[0]):
                del buf[0]
                continue
            size = self._packet_size(buf)
            if size is None:
                break  # wait for more bytes
            packet = bytes(buf[:size])
            if _clean_body(packet):
                packets.append(packet)
                del buf[:size]
            else:
                del buf[0]
        return packets

    @property
    def pending(self) -> int:
        """How many bytes wait for the rest of their packet."""
        return len(self._buffer or b"")

    @staticmethod
    def _packet_size(buf: bytearray) -> int | None:
        """The whole packet's size, or None until enough bytes are here to know and hold it."""
        base = asb_length(buf[0])
        if len(buf) < base:
            return None
        if not buf[1] & HEADER2_EXTENDED:
            return base
        if len(buf) < base + 2:
            return None
        extra = min(int.from_bytes(buf[base : base + 2], "big"), MAX_EXTENSION)
        size = base + 2 + extra
        return size if len(buf) >= size else None


def _bit(data: bytes, index: int, mask: int) -> bool:
    """Whether ``mask`` is set in byte ``index`` (False when the packet is too short for it)."""
    return len(data) > index and bool(data[index] & mask)


def _asb_flags(packet: bytes) -> dict[str, bool]:
    """Every condition an ASB packet reports, by name."""
    s2 = Status2
    return {
        "cover_open": _bit(packet, 2, Status1.COVER_OPEN),
        "offline": _bit(packet, 2, Status1.OFFLINE | Status1.OFFLINE_BY_SWITCH),
        "drawer_open": _bit(packet, 2, Status1.DRAWER_CLOSED),
        "mechanical_error": _bit(packet, 3, s2.MECHANICAL_ERROR),
        "autocutter_error": _bit(packet, 3, s2.AUTOCUTTER_ERROR),
        "unrecoverable_error": _bit(packet, 3, s2.UNRECOVERABLE_ERROR),
        "high_head_temperature": _bit(packet, 3, s2.HIGH_HEAD_TEMPERATURE),
        "head_up_error": _bit(packet, 4, Status3.HEAD_UP_ERROR),
        "presenter_paper_jam": _bit(packet, 4, Status3.PRESENTER_PAPER_JAM),
        "black_mark_error": _bit(packet, 4, Status3.BLACK_MARK_ERROR),
        "command_error": _bit(packet, 4, Status3.COMMAND_ERROR),
        "buffer_overflow": _bit(packet, 4, Status3.RECEIVE_BUFFER_OVERFLOW),
        "paper_out": _bit(packet, 5, Status4.PAPER_END),
        "paper_near_end": _bit(packet, 5, Status4.NEAR_END_INNER | Status4.NEAR_END_OUTER),
    }


#: Conditions that stop printing until a person acts: the summary state is "error".
_ERRORS = (
    "unrecoverable_error",
    "mechanical_error",
    "autocutter_error",
    "head_up_error",
    "presenter_paper_jam",
    "black_mark_error",
)
_RECOVERABLE = ("mechanical_error", "autocutter_error", "head_up_error", "presenter_paper_jam")

# (flag, words) in the order they appear in ``detail``.
_DETAIL: tuple[tuple[str, str], ...] = (
    ("unrecoverable_error", "non-recoverable error"),
    ("mechanical_error", "mechanical error"),
    ("autocutter_error", "auto-cutter error"),
    ("head_up_error", "head up"),
    ("presenter_paper_jam", "presenter paper jam"),
    ("black_mark_error", "black mark error"),
    ("other_error", "cover open or printer error (the ENQ reply does not say which)"),
    ("cover_open", "cover open"),
    ("paper_out", "paper end"),
    ("paper_near_end", "paper near end"),
    ("high_head_temperature", "stopped by high head temperature"),
    ("offline", "offline"),
    ("buffer_overflow", "receive buffer overflow"),
    ("command_error", "command error"),
)


def _state(flags: dict[str, bool]) -> PrinterState:
    """The summary, worst first, in the same order as the ESC/POS parser's."""
    if any(flags.get(name) for name in (*_ERRORS, "other_error")):
        return PrinterState.ERROR
    for name, state in (
        ("cover_open", PrinterState.COVER_OPEN),
        ("paper_out", PrinterState.PAPER_OUT),
        ("offline", PrinterState.OFFLINE),
        ("high_head_temperature", PrinterState.OFFLINE),
        ("paper_near_end", PrinterState.PAPER_NEAR_END),
    ):
        if flags.get(name):
            return state
    return PrinterState.ONLINE


def _detail(flags: dict[str, bool]) -> str | None:
    return "; ".join(text for name, text in _DETAIL if flags.get(name))[:200] or None


def _status(flags: dict[str, bool], checked_at: datetime | None) -> PrinterStatus:
    state = _state(flags)
    return PrinterStatus(
        state=state,
        online=state in (PrinterState.ONLINE, PrinterState.PAPER_NEAR_END),
        cover_open=flags.get("cover_open", False),
        paper_near_end=flags.get("paper_near_end", False),
        paper_out=flags.get("paper_out", False),
        drawer_open=flags.get("drawer_open", False),
        recoverable_error=any(flags.get(name) for name in _RECOVERABLE),
        unrecoverable_error=flags.get("unrecoverable_error", False)
        or flags.get("other_error", False),
        autocutter_error=flags.get("autocutter_error", False),
        detail=_detail(flags),
        checked_at=checked_at,
    )


def valid_asb(packet: bytes) -> bool:
    """Whether ``packet`` is one whole ASB: a header 1, its length, clean fixed bits."""
    if not packet or not is_asb_header(packet[0]):
        return False
    return len(packet) >= asb_length(packet[0]) and _clean_body(packet)


def parse_asb(packet: bytes, *, checked_at: datetime | None = None) -> PrinterStatus:
    """An ASB packet as a typed status; ValueError when it is not one."""
    if not valid_asb(packet):
        raise ValueError(f"not an ASB packet: {packet[:16].hex(' ')}")
    return _status(_asb_flags(packet[: asb_length(packet[0])]), checked_at)


def parse_enq(reply: int, *, checked_at: datetime | None = None) -> PrinterStatus:
    """The ENQ reply byte as a typed status; ValueError when bit 4 is set (not a reply)."""
    if not is_enq_reply(reply):
        raise ValueError(f"{reply:#04x} is not an ENQ reply")
    flags = {
        "paper_out": bool(reply & EnqBit.PAPER_END),
        "other_error": bool(reply & EnqBit.OTHER_ERROR),
        "drawer_open": bool(reply & EnqBit.DRAWER_CLOSED),
        "buffer_overflow": bool(reply & EnqBit.BUFFER_OVERFLOW),
    }
    return _status(flags, checked_at)


def asb_packet(
    status1: int = 0,
    status2: int = 0,
    status3: int = 0,
    status4: int = 0,
    *,
    length: int = 9,
    version: int = 3,
) -> bytes:
    """The ASB a printer sends with these status bytes (for simulators and tests)."""
    body = [status1, status2, status3, status4, 0, 0, 0][: length - 2]
    if any(not is_status_body_byte(b) for b in body):
        raise ValueError("status bytes touch the fixed bits 0, 4 or 7")
    header2 = ((version & 0x07) << 1) | ((version & 0x18) << 2)
    return bytes((length_header(length), header2, *body, *[0] * (length - 2 - len(body))))
