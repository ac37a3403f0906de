"""What a simulated Star printer in Star Graphic mode (a TSP143) puts on paper: raster and cuts.

A Star Graphic printer prints only raster: inside raster mode (``ESC * r A`` ... ``ESC * r B``)
raster lines (``b n1 n2 d...``) and vertical moves (``ESC * r Y n NUL``) fill its image buffer,
and a form feed (``ESC FF NUL``: the FF mode), ``ESC FF EOT`` or quitting raster mode with data
buffered (the EOT mode) prints it, then feeds and cuts as the mode says
(shared.escpos.star_raster). Each printed buffer is one image on the paper (a
:class:`~shared.escpos.raster.Raster` as wide as its widest line), each cut a
:class:`~agent.simulators.star_paper.PrintedCut`. Line Mode text and commands outside raster
mode print nothing there: they are collected in :attr:`StarPaper.unknown`, which is how a test
sees that Line Mode output would print nothing on a TSP100.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.simulators.star_paper import PrintedCut, StarPaper
from shared.escpos import star_raster
from shared.escpos.raster import Raster
from shared.escpos.star_tokens import StarToken

#: The EOT / FF mode a printer starts raster mode with: form feed, cut feed, partial cut (the
#: initial value the specification gives, n = 13), which the TSP143's cutter makes.
INITIAL_MODE = 13
#: Commands outside raster mode that print nothing and change nothing on paper.
_QUIET_OUTSIDE = frozenset(
    {"initialize", "drawer_pulse_setup", "drawer_1", "drawer_1_now", "drawer_2_now"}
    | {"buzzer_setup", "buzzer", "asb_request", "asb_setting", "enq", "eot"}
)
#: Raster settings that change nothing the paper shows here.
_QUIET_RASTER = frozenset(
    {"raster_page_length", "raster_quality", "raster_top_margin", "raster_left_margin"}
    | {"raster_right_margin", "raster_initialize", "asb_request", "asb_setting", "enq", "eot"}
)


@dataclass
class _Reader:
    paper: StarPaper = field(default_factory=StarPaper)
    rows: list[bytes] = field(default_factory=list)
    eot_mode: int = INITIAL_MODE
    ff_mode: int = INITIAL_MODE
    #: Offsets just after each command that cut.
    cut_ends: list[int] = field(default_factory=list)

    def print_buffer(self) -> bool:
        """Put the buffered lines on paper as one image; whether there were any."""
        if not self.rows:
            return False
        row_bytes = max(1, *(len(row) for row in self.rows))
        data = b"".join(row.ljust(row_bytes, b"\x00") for row in self.rows)
        self.paper.items.append(Raster(row_bytes * 8, len(self.rows), data))
        self.rows = []
        return True

    def feed_and_cut(self, mode: int, token: StarToken) -> None:
        if mode in star_raster.CUTS:
            self.paper.items.append(PrintedCut(star_raster.CUTS[mode]))
            self.cut_ends.append(token.end)

    def raster(self, token: StarToken) -> None:
        name = token.name
        if name == "raster_line":
            self.rows.append(token.payload)
        elif name == "raster_move":
            self.rows.extend(b"" for _ in range(token.args[0]))
        elif name in ("raster_eot_mode", "raster_ff_mode"):
            value = token.args[0] or INITIAL_MODE
            if name == "raster_eot_mode":
                self.eot_mode = value
            else:
                self.ff_mode = value
        elif name == "raster_form_feed":
            self.print_buffer()
            self.feed_and_cut(self.ff_mode, token)
        elif name == "raster_eot":
            self.print_buffer()
            self.feed_and_cut(self.eot_mode, token)
        elif name == "raster_quit":
            if self.print_buffer():
                self.feed_and_cut(self.eot_mode, token)
        elif name == "raster_enter":
            self.eot_mode = self.ff_mode = INITIAL_MODE
        elif name == "raster_clear":
            self.rows = []
        elif name not in _QUIET_RASTER:
            self.paper.unknown.append(token)


def _read(printed: bytes) -> _Reader:
    reader = _Reader()
    tokens, _, _ = star_raster.tokenize(printed, final=False)
    for token in tokens:
        if token.name.startswith("raster_"):
            reader.raster(token)
        elif token.name not in _QUIET_OUTSIDE:
            reader.paper.unknown.append(token)
    return reader


def read_graphic_paper(printed: bytes) -> StarPaper:
    """What ``printed`` puts on a Star Graphic printer's paper (lines still buffered: none)."""
    return _read(printed).paper


def graphic_jobs(printed: bytes) -> list[bytes]:
    """The complete jobs in ``printed``: each ends with a command that cut."""
    jobs, start = [], 0
    for end in _read(printed).cut_ends:
        jobs.append(printed[start:end])
        start = end
    return jobs
