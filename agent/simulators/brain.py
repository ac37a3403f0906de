"""The printer brain shared by every simulated printer: what it prints and what it answers.

Sans-IO like the parser it exercises: bytes in, reply bytes out. The network simulator and
the fake USB backend both feed it what the agent sends and return what it answers, so both
behave alike. ``DLE EOT n`` (n = 1..4) is taken out of the byte stream wherever it appears,
also split across reads, and answered at once, as a real printer answers it in real time.

States and what the printer does in each (the status bytes an Epson TM answers are in
``STATUS_REPLIES``):

=============== ====================== ============================================
state           answers DLE EOT        prints what it receives
=============== ====================== ============================================
ok              online                 yes
paper_near_end  online, near end       yes
paper_out       offline, paper end     no (kept in ``rejected``)
cover_open      offline, cover open    no
offline         offline, waiting       no
error           offline, cutter error  no
powered_off     nothing at all         no; the simulators drop connections/unplug
=============== ====================== ============================================

Real printers hold data received while not ready and print it after recovery; the brain
drops it instead, so "printed exactly once" is easy to assert. With ``answer_status=False``
it plays a non-ESC/POS service on port 9100: it takes bytes and never answers.

Cash drawer pulses are recorded (``pulses``) as a real printer executes them: ``DLE DC4 1 m t``
is real time, taken out of the stream and executed in any state but powered off; ``ESC p m t1
t2`` is ordinary data, executed when it is printed, so while the printer is not ready it is held
with the rest (``rejected``) and never fires.

In Star mode (``mode="star"``) it plays a Star printer as Star's Line Mode / StarPRNT command
specifications describe one, which answers no ``DLE EOT n``: ``ESC ACK SOH`` gets the ASB
(``STAR_ASB``; ``asb=False`` plays a printer or port without ASB, which ignores it), ``ENQ``
the ENQ status byte, ``EOT`` (also the middle byte of an ESC/POS ``DLE EOT n``) the EOT status
byte, and ``ESC RS a n`` switches ASB on or off (``asb_enabled``); while it is on, every state
change sends an ASB by itself (:meth:`PrinterBrain.unsolicited`, pushed by both simulators).
Star drawer pulses (``ESC BEL n1 n2`` then ``FS`` at once or ``BEL`` in order) are recorded
like ESC/POS ones. Star mode reads its input command by command (shared.escpos.star_tokens):
its jobs end with Star's cut ``ESC d n`` (an ESC/POS ``GS V`` cuts nothing there), and
:meth:`PrinterBrain.paper` shows what it printed as lines, images, QR codes and cuts
(agent.simulators.star_paper).

``mode="star_graphic"`` plays a Star printer in Star Graphic mode (the TSP100 futurePRNT
family): it answers as in Star mode, and prints only Star raster (``ESC * r A`` ... ``ESC * r
B``, shared.escpos.star_raster); Line Mode text and commands print nothing (they end up in
:attr:`StarPaper.unknown`). Its jobs end with a form feed in a cutting mode, and
:meth:`PrinterBrain.paper` shows each printed raster buffer as one image, and the cuts
(agent.simulators.star_graphic_paper).

Both Star modes answer ``ESC # * LF NUL`` (inquire printer version) with ``ESC # * ,`` the
brain's ``star_version`` text ``LF NUL`` (shared.escpos.star_identity), a per-model string by
default (:data:`STAR_VERSIONS`: ``TSP654 Ver2.1`` in Star mode, ``TSP143IIIL Ver1.2`` in Star
Graphic mode); ``star_version=None`` plays a Star printer that ignores the command. Like ``GS
I`` it is processed with the receive buffer, so it goes unanswered while the printer is not
ready.

``GS I n`` (transmit printer ID) is answered from the brain's :class:`SimIdentity` as Epson
documents it: a one-byte ID for ``n`` = 1, 2 (49, 50), printer information B (``_ text NUL``)
for 65-69, silence for what the model does not answer (a TM-T20III has no ``n = 3``) and, since
``GS I`` is processed with the receive buffer, silence while the printer is not ready. The brain
does not parse print data, where image bytes may look like ``GS I``, so it recognises the
command only when it arrives on its own, as the agent sends it.

All public methods are thread-safe: tests may change the state from any thread.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from agent.simulators.star_graphic_paper import graphic_jobs, read_graphic_paper
from agent.simulators.star_paper import StarPaper, read_paper, star_jobs
from shared.escpos import star_raster
from shared.escpos.identity import IdKind, TypeBit, info_b_reply
from shared.escpos.star import EnqBit, Status1, Status2, Status4, asb_packet
from shared.escpos.star_identity import VERSION_REQUEST, version_reply
from shared.escpos.star_tokens import tokenize
from shared.escpos.status import (
    DLE,
    EOT,
    ErrorBit,
    OfflineBit,
    PaperBit,
    PrinterBit,
    StatusKind,
    status_byte,
)


class SimState(StrEnum):
    """The condition a simulated printer is in."""

    OK = "ok"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    ERROR = "error"
    #: Unplugged or switched off: no answer, no printing, links dropped.
    POWERED_OFF = "powered_off"


def _replies(printer: int, offline: int, error: int, paper: int) -> tuple[int, int, int, int]:
    """The four reply bytes for the given condition bits."""
    return status_byte(printer), status_byte(offline), status_byte(error), status_byte(paper)


_OFF = PrinterBit.OFFLINE

#: What a real Epson TM answers to DLE EOT 1..4 in each state.
STATUS_REPLIES: dict[SimState, tuple[int, int, int, int] | None] = {
    SimState.OK: _replies(0, 0, 0, 0),
    SimState.PAPER_NEAR_END: _replies(0, 0, 0, PaperBit.NEAR_END),
    SimState.PAPER_OUT: _replies(
        _OFF, OfflineBit.PAPER_END_STOP, 0, PaperBit.NEAR_END | PaperBit.END
    ),
    SimState.COVER_OPEN: _replies(_OFF, OfflineBit.COVER_OPEN, 0, 0),
    SimState.OFFLINE: _replies(_OFF | PrinterBit.WAITING_ONLINE_RECOVERY, 0, 0, 0),
    SimState.ERROR: _replies(_OFF, OfflineBit.ERROR, ErrorBit.AUTOCUTTER, 0),
    SimState.POWERED_OFF: None,
}

_S1_OFF = Status1.OFFLINE
#: The status bytes 1, 2 and 4 a Star printer's ASB carries in each state.
STAR_ASB: dict[SimState, tuple[int, int, int] | None] = {
    SimState.OK: (0, 0, 0),
    SimState.PAPER_NEAR_END: (0, 0, Status4.NEAR_END_INNER),
    SimState.PAPER_OUT: (_S1_OFF, 0, Status4.PAPER_END | Status4.NEAR_END_INNER),
    SimState.COVER_OPEN: (_S1_OFF | Status1.COVER_OPEN, 0, 0),
    SimState.OFFLINE: (_S1_OFF | Status1.OFFLINE_BY_SWITCH, 0, 0),
    SimState.ERROR: (_S1_OFF, Status2.AUTOCUTTER_ERROR, 0),
    SimState.POWERED_OFF: None,
}
#: The ENQ status byte per state (receive buffer empty, as after each job here).
STAR_ENQ: dict[SimState, int] = {
    SimState.OK: EnqBit.BUFFER_EMPTY,
    SimState.PAPER_NEAR_END: EnqBit.BUFFER_EMPTY,
    SimState.PAPER_OUT: EnqBit.BUFFER_EMPTY | EnqBit.PAPER_END,
    SimState.COVER_OPEN: EnqBit.BUFFER_EMPTY | EnqBit.OTHER_ERROR,
    SimState.OFFLINE: EnqBit.BUFFER_EMPTY,
    SimState.ERROR: EnqBit.BUFFER_EMPTY | EnqBit.OTHER_ERROR,
}
# Star requests: ESC ACK SOH (ASB), ENQ, EOT; ESC RS a n (ASB on/off); ESC # * LF NUL (version).
_STAR_REQUESTS = frozenset({"asb_request", "enq", "eot", "asb_setting", "version_request"})
# ESC BEL n1 n2 then FS (real time) or BEL (in order): a Star drawer 1 pulse.
_STAR_DRAWER = re.compile(rb"\x1b\x07(.)(.)([\x07\x1c])", re.DOTALL)

READY_STATES = frozenset({SimState.OK, SimState.PAPER_NEAR_END})
DC4 = 0x14
# ESC p m t1 t2 (m = 0, 1, 48, 49): an ordinary drawer pulse.
_ESC_P = re.compile(rb"\x1bp([\x00\x01\x30\x31])(.)(.)", re.DOTALL)


@dataclass(frozen=True)
class DrawerPulse:
    """A drawer pulse the printer put out: which pin, how long, by which command, in what state."""

    pin: int
    on_ms: int
    command: str
    state: SimState


# GS V m (m = 0, 1, 48, 49) or GS V m n (m = 65, 66): the cut that ends a job.
_CUT = re.compile(rb"\x1dV(?:[\x00\x01\x30\x31]|[\x41\x42].)", re.DOTALL)


def new_serial() -> str:
    """A serial number in the style of Epson's (10 characters), random: simulators in other
    processes on this machine must not share one."""
    return f"X4V{secrets.randbelow(10**7):07d}"


@dataclass(frozen=True)
class SimIdentity:
    """What a simulated printer answers to ``GS I n`` (None: it cannot tell, ``_ NUL``).

    The defaults are a TM-T20III's answers, with a new serial number for every instance.
    """

    model: str | None = "TM-T20III"
    maker: str | None = "EPSON"
    serial: str | None = field(default_factory=new_serial)
    firmware: str | None = "10.02 ESC/POS"
    language_font: str | None = None
    #: Printer model ID (``GS I 1``), model specific; bits 4 and 7 are always off.
    model_id: int = 0x20
    #: Type ID (``GS I 2``): an autocutter, no multi-byte fonts, no customer display.
    type_id: int = int(TypeBit.AUTOCUTTER)
    #: The ``n`` this model answers (Epson: the TM-T20III answers 1, 2, 49, 50, 65-69).
    answers: frozenset[int] = frozenset({1, 2, 49, 50, 65, 66, 67, 68, 69})

    def reply(self, n: int) -> bytes:
        """The bytes answered to ``GS I n`` (empty: the command is ignored)."""
        if n not in self.answers:
            return b""
        kind = IdKind(n - 48 if 49 <= n <= 51 else n)
        one_byte = {IdKind.MODEL_ID: self.model_id, IdKind.TYPE_ID: self.type_id}
        if kind in one_byte:
            return bytes((one_byte[kind],))
        texts = {
            IdKind.FIRMWARE: self.firmware,
            IdKind.MAKER: self.maker,
            IdKind.MODEL: self.model,
            IdKind.SERIAL: self.serial,
            IdKind.LANGUAGE_FONT: self.language_font,
        }
        return info_b_reply(texts[kind]) if kind in texts else b""


# GS I n, one or more, and nothing else: a query as the agent sends it.
_GS_I_ONLY = re.compile(rb"(?:\x1dI[\x01-\x03\x31-\x33\x41-\x45])+", re.DOTALL)


class QuerySplitter:
    """Takes ``DLE EOT n`` queries out of a byte stream; keeps a split query for the next feed."""

    def __init__(self) -> None:
        self._tail = b""
        #: Real-time pulses (DLE DC4 1 m t) found, as (pin, on ms); the caller takes them.
        self.pulses: list[tuple[int, int]] = []

    def feed(self, data: bytes) -> tuple[bytes, list[StatusKind]]:
        """The print data and the status queries found in ``data``."""
        buf, self._tail = self._tail + data, b""
        out, queries, i = bytearray(), [], 0
        while i < len(buf):
            dle = buf.find(DLE, i)  # print data up to the next DLE goes through as it is
            if dle < 0:
                out += buf[i:]
                break
            out += buf[i:dle]
            i = dle
            if buf[i] == DLE and _partial_realtime(buf[i:]):
                self._tail = buf[i:]  # maybe the start of a query: wait for the rest
                break
            if (
                buf[i : i + 3] == bytes((DLE, DC4, 1))
                and len(buf) - i >= 5
                and buf[i + 3] in (0, 1)
            ):
                self.pulses.append((2 if buf[i + 3] == 0 else 5, buf[i + 4] * 100))
                i += 5
                continue
            if buf[i] == DLE and buf[i + 1] == EOT and 1 <= buf[i + 2] <= 4:
                queries.append(StatusKind(buf[i + 2]))
                i += 3
                continue
            out.append(buf[i])
            i += 1
        return bytes(out), queries


def _partial_realtime(buf: bytes) -> bool:
    """Whether ``buf`` (starting with DLE) may be the start of a DLE EOT n or DLE DC4 1 m t."""
    if len(buf) < 3:
        return buf[1:2] in (b"", bytes([EOT]), bytes([DC4]))
    return buf[1] == DC4 and buf[2] == 1 and len(buf) < 5


def split_jobs(printed: bytes) -> list[bytes]:
    """The complete jobs in ``printed``: each ends with a paper cut."""
    jobs, start = [], 0
    for cut in _CUT.finditer(printed):
        jobs.append(printed[start : cut.end()])
        start = cut.end()
    return jobs


SimMode = Literal["escpos", "star", "star_graphic"]
_STAR_MODES = frozenset({"star", "star_graphic"})
#: What a Star printer answers to ``ESC # * LF NUL`` by default, per mode (a TSP654 in Line
#: Mode, a TSP143IIILAN in Star Graphic mode), in the form of Star's example ("HSP7000 Ver. 1.0").
STAR_VERSIONS: dict[SimMode, str | None] = {
    "escpos": None,
    "star": "TSP654 Ver2.1",
    "star_graphic": "TSP143IIIL Ver1.2",
}


class PrinterBrain:
    """A thread-safe simulated ESC/POS printer without any I/O."""

    def __init__(
        self,
        state: SimState = SimState.OK,
        *,
        answer_status: bool = True,
        mode: SimMode = "escpos",
        asb: bool = True,
        identity: SimIdentity | None = None,
        star_version: str | Literal["default"] | None = "default",
    ) -> None:
        self._lock = threading.Lock()
        self._state = state
        self.answer_status = answer_status
        self.mode = mode
        #: Whether ESC ACK SOH is answered (False: a Star printer or port without ASB).
        self.asb = asb
        #: Whether ESC RS a has switched automatic status on.
        self.asb_enabled = False
        #: What it answers to ``GS I``; None: a printer that ignores the command.
        self.identity = identity
        self._identity_queries = 0
        #: Star modes: the text answered to ``ESC # * LF NUL``; None: the command is ignored.
        self.star_version = STAR_VERSIONS[mode] if star_version == "default" else star_version
        self._version_queries = 0
        self._splitter = QuerySplitter()
        #: Star mode: the start of a command whose end has not come yet.
        self._star_tail = b""
        #: Star Graphic mode: whether the printer is in raster mode (between writes).
        self._in_raster = False
        self._raw = bytearray()
        self._printed = bytearray()
        self._rejected = bytearray()
        self._queries = 0
        self._pulses: list[DrawerPulse] = []
        self._listeners: list[Callable[[SimState], None]] = []

    @property
    def state(self) -> SimState:
        """The current condition."""
        with self._lock:
            return self._state

    def set_state(self, state: SimState | str) -> None:
        """Put the printer into ``state`` (from any thread); listeners hear about it."""
        new = SimState(state)
        with self._lock:
            self._state = new
            listeners = list(self._listeners)
        for listener in listeners:
            listener(new)

    def unsolicited(self) -> bytes:
        """What the printer sends by itself now: a Star ASB while ASB is on, else nothing."""
        with self._lock:
            if self.mode not in _STAR_MODES or not (self.asb and self.asb_enabled):
                return b""
            asb = STAR_ASB[self._state] if self.answer_status else None
        return asb_packet(asb[0], asb[1], 0, asb[2]) if asb else b""

    def add_listener(self, listener: Callable[[SimState], None]) -> None:
        """Call ``listener(state)`` after every state change."""
        with self._lock:
            self._listeners.append(listener)

    @property
    def powered(self) -> bool:
        """False while switched off or unplugged."""
        return self.state is not SimState.POWERED_OFF

    def receive(self, data: bytes) -> bytes:
        """Take bytes from the agent; the reply bytes to send back (often none)."""
        with self._lock:
            if self._state is SimState.POWERED_OFF:
                return b""
            self._raw += data
            if self.mode in _STAR_MODES:
                return self._receive_star(data)
            printable, queries = self._splitter.feed(data)
            self._queries += len(queries)
            for pin, on_ms in self._splitter.pulses:
                self._pulses.append(DrawerPulse(pin, on_ms, "DLE DC4", self._state))
            self._splitter.pulses.clear()
            if printable and _GS_I_ONLY.fullmatch(printable):
                return self._answers(queries) + self._identify(printable)
            if self._state in READY_STATES:
                self._printed += printable
                for m in _ESC_P.finditer(printable):
                    pin = 2 if m.group(1)[0] in (0, 0x30) else 5
                    self._pulses.append(DrawerPulse(pin, m.group(2)[0] * 2, "ESC p", self._state))
            else:
                self._rejected += printable
            return self._answers(queries)

    def _receive_star(self, data: bytes) -> bytes:
        """Star mode (lock held): answer Star requests, print or hold the rest.

        The stream is read command by command (shared.escpos.star_tokens), so the bytes of an
        image or a QR code are never taken for requests; a command split across writes waits
        for its end.
        """
        replies = bytearray()
        printable = bytearray()
        buf = self._star_tail + data
        if self.mode == "star_graphic":
            tokens, used, self._in_raster = star_raster.tokenize(
                buf, final=False, in_raster=self._in_raster
            )
        else:
            tokens, used = tokenize(buf, final=False)
        self._star_tail = buf[used:]
        for token in tokens:
            if token.name == "version_request":
                self._version_queries += 1
            elif token.name in _STAR_REQUESTS:
                self._queries += 1
            if token.name in _STAR_REQUESTS:
                argument = bytes(token.args) if token.name == "asb_setting" else None
                replies += self._star_answer(buf[token.start : token.end], argument)
            else:
                printable += buf[token.start : token.end]
        for m in _STAR_DRAWER.finditer(printable):
            realtime = m.group(3) == b"\x1c"
            if realtime or self._state in READY_STATES:
                command = "FS" if realtime else "BEL"
                self._pulses.append(DrawerPulse(2, m.group(1)[0] * 10, command, self._state))
        if self._state in READY_STATES:
            self._printed += printable
        else:
            self._rejected += printable
        return bytes(replies)

    def _star_answer(self, request: bytes, argument: bytes | None) -> bytes:
        """The reply to one Star request in the current state (lock held)."""
        if argument is not None:  # ESC RS a n: bit 0 switches ASB
            self.asb_enabled = bool(argument[0] & 1)
            return b""
        if not self.answer_status:
            return b""
        if request == VERSION_REQUEST:
            ready = self._state in READY_STATES and self.star_version is not None
            return version_reply(self.star_version or "") if ready else b""
        if request == b"\x1b\x06\x01":
            asb = STAR_ASB[self._state]
            return asb_packet(asb[0], asb[1], 0, asb[2]) if self.asb and asb else b""
        if request == b"\x05":
            return bytes((STAR_ENQ[self._state],))
        paper = STAR_ASB[self._state]
        eot = 0x10 | (paper[2] & 0x0C if paper else 0)  # bits 3 and 2: paper end, near end
        return bytes((eot,))

    def status_reply(self, kind: StatusKind) -> int | None:
        """The byte this printer answers to ``DLE EOT kind`` now, or None for silence."""
        with self._lock:
            replies = STATUS_REPLIES[self._state] if self.answer_status else None
        return None if replies is None else replies[kind - 1]

    def _identify(self, commands: bytes) -> bytes:
        """Replies to ``GS I n`` commands (lock held): none while not ready or not known."""
        self._identity_queries += len(commands) // 3
        if self.identity is None or self._state not in READY_STATES:
            return b""
        return b"".join(self.identity.reply(commands[i + 2]) for i in range(0, len(commands), 3))

    @property
    def identity_queries(self) -> int:
        """How many ``GS I`` commands were received."""
        with self._lock:
            return self._identity_queries

    @property
    def version_queries(self) -> int:
        """How many ``ESC # * LF NUL`` a Star-mode printer received."""
        with self._lock:
            return self._version_queries

    def _answers(self, queries: list[StatusKind]) -> bytes:
        """Reply bytes for ``queries`` in the current state (lock held)."""
        replies = STATUS_REPLIES[self._state] if self.answer_status else None
        if replies is None:
            return b""
        return bytes(replies[kind - 1] for kind in queries)

    @property
    def raw(self) -> bytes:
        """Every byte received, queries included."""
        with self._lock:
            return bytes(self._raw)

    @property
    def printed(self) -> bytes:
        """The bytes actually printed (received while ready), queries excluded."""
        with self._lock:
            return bytes(self._printed)

    @property
    def rejected(self) -> bytes:
        """Print data received while not ready, which a real printer would hold."""
        with self._lock:
            return bytes(self._rejected)

    @property
    def pulses(self) -> list[DrawerPulse]:
        """Every drawer pulse put out, in order."""
        with self._lock:
            return list(self._pulses)

    @property
    def queries(self) -> int:
        """How many status queries were received."""
        with self._lock:
            return self._queries

    @property
    def jobs(self) -> list[bytes]:
        """The printed jobs, each ending with a cut (a Star cut, ``ESC d n``, in Star mode; a
        form feed in a cutting mode in Star Graphic mode)."""
        if self.mode == "star_graphic":
            return graphic_jobs(self.printed)
        return star_jobs(self.printed) if self.mode == "star" else split_jobs(self.printed)

    def paper(self) -> StarPaper:
        """Star modes: what was printed, read as a Star printer reads it (lines, images, QR;
        in Star Graphic mode only images and cuts)."""
        if self.mode == "star_graphic":
            return read_graphic_paper(self.printed)
        return read_paper(self.printed)

    @property
    def cuts(self) -> int:
        """How many times the paper was cut."""
        return len(self.jobs)

    def count_jobs_containing(self, needle: bytes | str) -> int:
        """How many printed jobs contain ``needle`` (e.g. a correlation id)."""
        text = needle.encode() if isinstance(needle, str) else needle
        return sum(text in job for job in self.jobs)

    def clear(self) -> None:
        """Forget everything received."""
        with self._lock:
            self._raw.clear()
            self._printed.clear()
            self._rejected.clear()
            self._queries = 0
            self._identity_queries = 0
            self._version_queries = 0
            self._pulses.clear()
            self._splitter = QuerySplitter()
            self._star_tail = b""
            self._in_raster = False
