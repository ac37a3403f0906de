"""What a simulated Star printer in Star mode puts on paper: lines, images, QR codes and cuts.

The brain (agent.simulators.brain) keeps the bytes a Star printer printed; this reads them as
the printer would (shared.escpos.star_tokens), so a test asserts on the receipt rather than on
bytes: each text line with the emphasis, underline, alignment and expansion it was printed
with (text decoded in the ``ESC GS t`` page in force), each image (consecutive ``ESC X`` bands
joined, as they touch on paper), each QR code's data and settings, each cut. Commands a Star
printer would not understand (an ESC/POS ``GS V`` reads as ``control 0x1d``...) are collected
in :attr:`StarPaper.unknown`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.escpos.raster import Raster
from shared.escpos.star_line import BAND_ROWS, STAR_CODE_PAGES
from shared.escpos.star_tokens import StarToken, tokenize

_CODECS = {number: name.lower() for name, number in STAR_CODE_PAGES.items()}
_ALIGNS = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}
#: Tokens that print nothing and change nothing the paper shows.
_QUIET = frozenset(
    {
        *("line_spacing", "line_spacing_3mm", "print_mode", "font", "carriage_return", "cancel"),
        *("drawer_pulse_setup", "drawer_1", "drawer_1_now", "drawer_2_now", "buzzer_setup"),
        *("buzzer", "asb_request", "asb_setting", "enq", "eot"),
    }
)
_CUTS = {0: False, 1: True, 2: False, 3: True, 48: False, 49: True, 50: False, 51: True}


@dataclass(frozen=True)
class PrintedLine:
    """A line of text and how it was printed."""

    text: str
    bold: bool = False
    underline: bool = False
    align: str = "left"
    width: int = 1
    height: int = 1


@dataclass(frozen=True)
class PrintedQr:
    """A QR code the printer drew: its data, model, error level (0-3: L-H), cell size and
    alignment."""

    data: bytes
    model: int
    error: int
    cell: int
    align: str = "left"


@dataclass(frozen=True)
class PrintedCut:
    """A paper cut."""

    partial: bool


Item = PrintedLine | Raster | PrintedQr | PrintedCut


@dataclass
class _Style:
    bold: bool = False
    underline: bool = False
    align: str = "left"
    width: int = 1
    height: int = 1
    page: int = 1
    qr: dict[str, int] = field(default_factory=lambda: {"model": 2, "error": 0, "cell": 3})


@dataclass
class StarPaper:
    """The receipt(s) as printed, in order."""

    items: list[Item] = field(default_factory=list)
    unknown: list[StarToken] = field(default_factory=list)

    @property
    def lines(self) -> list[PrintedLine]:
        """The text lines."""
        return [item for item in self.items if isinstance(item, PrintedLine)]

    @property
    def texts(self) -> list[str]:
        """The text of each line."""
        return [line.text for line in self.lines]

    @property
    def images(self) -> list[Raster]:
        """The images (each of consecutive bands)."""
        return [item for item in self.items if isinstance(item, Raster)]

    @property
    def qr_codes(self) -> list[PrintedQr]:
        """The QR codes."""
        return [item for item in self.items if isinstance(item, PrintedQr)]

    @property
    def cuts(self) -> list[PrintedCut]:
        """The cuts."""
        return [item for item in self.items if isinstance(item, PrintedCut)]


def _band(width: int, columns: bytes) -> Raster:
    """24 rows from ``ESC X`` column data (three bytes a column, top dot first)."""
    row_bytes = (width + 7) // 8
    rows = bytearray(row_bytes * BAND_ROWS)
    for x in range(width):
        for dy in range(BAND_ROWS):
            if columns[x * 3 + dy // 8] & (0x80 >> (dy % 8)):
                rows[dy * row_bytes + x // 8] |= 0x80 >> (x % 8)
    return Raster(width, BAND_ROWS, bytes(rows))


class _Reader:
    """Reads tokens onto a :class:`StarPaper`, keeping the printer's settings."""

    def __init__(self) -> None:
        self.paper = StarPaper()
        self.style = _Style()
        self.line: list[str] = []
        self.line_style: PrintedLine | None = None
        self.in_image = False
        self.qr_data: bytes | None = None

    def flush(self, *, blank: bool = False) -> None:
        if self.line_style is not None:
            text = "".join(self.line)
            self.paper.items.append(_with_text(self.line_style, text))
        elif blank and not self.in_image:
            self.paper.items.append(PrintedLine(""))
        self.line, self.line_style = [], None

    def text(self, payload: bytes) -> None:
        codec = _CODECS.get(self.style.page, "cp437")
        blank_so_far = not "".join(self.line).strip()
        if self.line_style is None or (blank_so_far and payload.strip()):
            # A line looks the way its first visible letters print (spaces may pad it).
            s = self.style
            self.line_style = PrintedLine("", s.bold, s.underline, s.align, s.width, s.height)
        self.line.append(payload.decode(codec, errors="replace"))

    def image(self, token: StarToken) -> None:
        band = _band(token.args[0], token.payload)
        last = self.paper.items[-1] if self.paper.items else None
        if self.in_image and isinstance(last, Raster) and last.width == band.width:
            self.paper.items[-1] = last.stack(band)
        else:
            self.flush()
            self.paper.items.append(band)
        self.in_image = True

    def settings(self, token: StarToken) -> bool:
        """Apply a setting token; whether it was one."""
        s, name, args = self.style, token.name, token.args
        if name in ("emphasis_on", "emphasis_off"):
            s.bold = name == "emphasis_on"
        elif name == "underline":
            s.underline = args[0] in (1, 49)
        elif name == "expansion":
            s.height, s.width = args[0] + 1, args[1] + 1
        elif name == "align":
            s.align = _ALIGNS.get(args[0], "left")
        elif name == "code_page":
            s.page = args[0]
        elif name in ("qr_model", "qr_error", "qr_cell"):
            s.qr[name.removeprefix("qr_")] = args[0]
        elif name == "initialize":
            self.style = _Style()
        else:
            return name in _QUIET
        return True

    def feed(self, token: StarToken) -> None:
        name = token.name
        if name == "line_feed":
            self.flush(blank=True)
            return
        self.in_image = False
        if name == "text":
            self.text(token.payload)
        elif name == "feed_lines":
            self.flush()
            self.paper.items.extend(PrintedLine("") for _ in range(token.args[0]))
        elif name == "cut":
            self.flush()
            self.paper.items.append(PrintedCut(_CUTS.get(token.args[0], False)))
        elif name == "qr_store":
            self.qr_data = token.payload
        elif name == "qr_print" and self.qr_data is not None:
            self.flush()
            q = self.style.qr
            qr = PrintedQr(self.qr_data, q["model"], q["error"], q["cell"], self.style.align)
            self.paper.items.append(qr)
        elif not self.settings(token):
            self.paper.unknown.append(token)


def _with_text(style: PrintedLine, text: str) -> PrintedLine:
    return PrintedLine(text, style.bold, style.underline, style.align, style.width, style.height)


def read_paper(printed: bytes) -> StarPaper:
    """What ``printed`` (Star Line Mode bytes) puts on paper; a command cut short is dropped."""
    reader = _Reader()
    tokens, _ = tokenize(printed, final=False)
    for token in tokens:
        if token.name == "bit_image":
            reader.image(token)
        elif token.name in ("line_spacing", "line_spacing_3mm"):
            continue  # between image bands: the image goes on
        else:
            reader.feed(token)
    reader.flush()
    return reader.paper


def star_jobs(printed: bytes) -> list[bytes]:
    """The complete jobs in ``printed``: each ends with a Star cut (``ESC d n``)."""
    jobs, start = [], 0
    for token in tokenize(printed, final=False)[0]:
        if token.name == "cut":
            jobs.append(printed[start : token.end])
            start = token.end
    return jobs
