"""Text drawn as a picture: any script, shaped and in reading order, with the shipped fonts.

A line is cut into runs by font (agent/fonts: Chit Sans for Latin, Greek, Cyrillic, Arabic,
Hebrew, Thai and Devanagari; Chit Sans CJK; Chit Emoji), picked per character from
``coverage.json``. Spaces, digits and punctuation stay in the run around them.

Shaping and direction, two ways:

- **libraqm** (Pillow's ``Layout.RAQM``: HarfBuzz shaping, FriBiDi bidi). A line in one font,
  the common case (an Arabic name with a Latin price is one font), is one raqm call with the
  paragraph's direction: the full Unicode bidi algorithm, joining, marks, conjuncts.
- **without raqm** (Pillow on Windows loads FriBiDi only when fribidi.dll is present):
  arabic-reshaper joins Arabic letters into presentation forms and python-bidi reorders. Marks
  and Indic conjuncts are then not positioned by the font (Devanagari is legible, not pretty).

A line that needs several fonts gets its embedding levels from python-bidi's pure-Python
algorithm (``bidi.algorithm``, the classic one, without the bracket-pair rule), is cut into
runs of one font and one level, reordered by rule L2 and each run drawn in its own direction.

Emoji are colour bitmaps (Noto Color Emoji draws only at 109 px): drawn at that size, scaled to
the line and thresholded like the rest. Everything is drawn in grey and cut at 50 % to black or
white dots.
"""

from __future__ import annotations

import bisect
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import arabic_reshaper
from bidi import algorithm as bidi_algorithm
from bidi import get_display
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, features

FONT_DIR = Path(__file__).parent / "fonts"
SANS, CJK, EMOJI = "ChitSans-Regular.ttf", "ChitSansCJK-Regular.otf", "ChitEmoji-Regular.ttf"
EMOJI_STRIKE = 109
#: Characters that join the run they are in rather than choose a font of their own.
_WEAK = frozenset({"WS", "ON", "CS", "ES", "ET", "EN", "BN", "NSM", "S", "B", "AN"})
_JOINERS = frozenset({"\u200d", "\ufe0f", "\ufe0e"})


@cache
def raqm_available() -> bool:
    """Whether Pillow can shape with libraqm here (it needs FriBiDi at run time)."""
    return bool(features.check("raqm"))


@cache
def _coverage() -> dict[str, tuple[list[int], list[int]]]:
    raw = json.loads((FONT_DIR / "coverage.json").read_text())
    return {name: ([a for a, _ in runs], [b for _, b in runs]) for name, runs in raw.items()}


def covers(font: str, char: str) -> bool:
    """Whether the shipped ``font`` has a glyph for ``char``."""
    starts, ends = _coverage()[font]
    i = bisect.bisect_right(starts, ord(char)) - 1
    return i >= 0 and ord(char) <= ends[i]


def font_of(char: str) -> str:
    """The font a character is drawn with (Chit Sans when none has it: it draws a box)."""
    if covers(EMOJI, char) and ord(char) > 0x2000 and char not in _JOINERS:
        return EMOJI
    for font in (SANS, CJK):
        if covers(font, char):
            return font
    return SANS


@lru_cache(maxsize=32)
def load(font: str, size: int) -> ImageFont.FreeTypeFont:
    """A shipped font at ``size`` pixels, with raqm when available."""
    engine = ImageFont.Layout.RAQM if raqm_available() else ImageFont.Layout.BASIC
    if font == EMOJI:
        size = EMOJI_STRIKE
    return ImageFont.truetype(str(FONT_DIR / font), size, layout_engine=engine)


@dataclass(frozen=True)
class Run:
    """Text drawn with one font in one direction."""

    text: str
    font: str
    rtl: bool


def base_rtl(text: str) -> bool:
    """The paragraph direction by its first strong character (UBA P2-P3); LTR without one."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def font_runs(text: str) -> list[tuple[str, str]]:
    """``text`` cut into (text, font) runs in logical order."""
    runs: list[tuple[str, str]] = []
    for char in text:
        font = font_of(char)
        weak = unicodedata.bidirectional(char) in _WEAK or char in _JOINERS
        joins = char in _JOINERS or font == runs[-1][1] if runs else False
        if runs and (joins or (weak and covers(runs[-1][1], char))):
            runs[-1] = (runs[-1][0] + char, runs[-1][1])
        else:
            runs.append((char, font))
    return runs


def _levels(text: str, rtl: bool) -> list[int]:
    """Embedding levels per character (python-bidi's classic algorithm)."""
    storage = bidi_algorithm.get_empty_storage()
    storage["base_level"] = 1 if rtl else 0
    storage["base_dir"] = "R" if rtl else "L"
    bidi_algorithm.get_embedding_levels(text, storage)
    bidi_algorithm.explicit_embed_and_overrides(storage, False)
    bidi_algorithm.resolve_weak_types(storage, False)
    bidi_algorithm.resolve_neutral_types(storage, False)
    bidi_algorithm.resolve_implicit_levels(storage, False)
    return [int(ch["level"]) for ch in storage["chars"]]


def visual_runs(text: str, rtl: bool) -> list[Run]:
    """The runs of a line in the order they are drawn, left to right."""
    fonts = font_runs(text)
    if len(fonts) == 1:
        return [Run(text, fonts[0][1], rtl)]
    font_per_char = [font for chunk, font in fonts for _ in chunk]
    levels = _levels(text, rtl)
    if len(levels) != len(text):  # a surrogate pair on a narrow build: keep logical order
        return [Run(chunk, font, rtl) for chunk, font in fonts]
    pieces: list[tuple[str, str, int]] = []
    for char, font, level in zip(text, font_per_char, levels, strict=True):
        if pieces and pieces[-1][1:] == (font, level):
            pieces[-1] = (pieces[-1][0] + char, font, level)
        else:
            pieces.append((char, font, level))
    return [Run(t, f, lvl % 2 == 1) for t, f, lvl in _reorder(pieces)]


def _reorder(pieces: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """UBA rule L2: reverse every maximal sequence at each level from the highest down to 1."""
    order = list(pieces)
    top = max(level for *_, level in order)
    lowest_odd = min((level for *_, level in order if level % 2), default=top + 1)
    for level in range(top, max(lowest_odd, 1) - 1, -1):
        i = 0
        while i < len(order):
            if order[i][2] < level:
                i += 1
                continue
            j = i
            while j < len(order) and order[j][2] >= level:
                j += 1
            order[i:j] = reversed(order[i:j])
            i = j
    return order


def _plain(run: Run) -> str:
    """A run's text in drawing order for the basic layout (no raqm): joined and reversed."""
    text = run.text
    if any(unicodedata.bidirectional(c) == "AL" for c in text):
        text = arabic_reshaper.reshape(text)
    if run.rtl:
        return str(get_display(text, base_dir="R"))
    return text


@dataclass(frozen=True)
class Style:
    """How a line is drawn: pixel size, magnification, bold and underline."""

    size: int = 24
    width: int = 1
    height: int = 1
    bold: bool = False
    underline: bool = False

    @property
    def px(self) -> int:
        """The font size in pixels (the height magnification)."""
        return self.size * self.height


def _draw_args(run: Run) -> dict[str, object]:
    if raqm_available():
        return {"direction": "rtl" if run.rtl else "ltr"}
    return {}


def _run_text(run: Run) -> str:
    return run.text if raqm_available() else _plain(run)


def run_width(run: Run, style: Style) -> int:
    """How wide a run is drawn, in dots (before horizontal magnification)."""
    if run.font == EMOJI:
        return sum(style.px for _ in _emoji_clusters(run.text))
    font = load(run.font, style.px)
    return round(font.getlength(_run_text(run), **_draw_args(run)))  # type: ignore[arg-type]


def measure(text: str, style: Style, rtl: bool | None = None) -> int:
    """The drawn width of a line in dots, magnification included."""
    direction = base_rtl(text) if rtl is None else rtl
    natural = sum(run_width(run, style) for run in visual_runs(text, direction))
    return natural * style.width // style.height if style.width != style.height else natural


def _emoji_clusters(text: str) -> Iterator[str]:
    """Emoji with their joiners and variation selectors kept together."""
    cluster = ""
    for char in text:
        if cluster and (char in _JOINERS or cluster.endswith("\u200d")):
            cluster += char
            continue
        if cluster:
            yield cluster
        cluster = char
    if cluster:
        yield cluster


def _emoji(cluster: str, px: int) -> Image.Image:
    """One emoji, ``px`` square: its outline and its dark areas in black on white.

    Colour pictures cut at 50 % grey lose their light parts (a pizza slice is mostly pale), so
    the outline of the picture's shape is drawn as well.
    """
    font = load(EMOJI, EMOJI_STRIKE)
    canvas = Image.new("RGBA", (EMOJI_STRIKE + 40, EMOJI_STRIKE + 40), (255, 255, 255, 0))
    ImageDraw.Draw(canvas).text((0, 0), cluster, font=font, embedded_color=True)
    canvas = canvas.crop(canvas.getbbox() or (0, 0, 1, 1))
    canvas.thumbnail((px, px), Image.Resampling.LANCZOS)
    shape = canvas.getchannel("A").point(lambda a: 255 if a >= 128 else 0)
    outline = ImageChops.subtract(shape, shape.filter(ImageFilter.MinFilter(3)))
    white = Image.new("RGBA", canvas.size, (255, 255, 255, 255))
    grey = Image.alpha_composite(white, canvas).convert("L")
    dark = grey.point(lambda v: 255 if v < 140 else 0)
    ink = ImageChops.lighter(outline, dark)
    square = Image.new("L", (px, px), 255)
    square.paste(ImageChops.invert(ink), ((px - canvas.width) // 2, (px - canvas.height) // 2))
    return square


def draw_line(text: str, style: Style, rtl: bool | None = None) -> Image.Image:
    """A line as a grey image (0 ink, 255 paper), as wide as its text, ``line_height`` high."""
    direction = base_rtl(text) if rtl is None else rtl
    runs = visual_runs(text, direction)
    ascent, descent = round(style.px * 1.08), round(style.px * 0.42)
    widths = [run_width(run, style) for run in runs]
    image = Image.new("L", (max(1, sum(widths)), ascent + descent), 255)
    draw = ImageDraw.Draw(image)
    x = 0
    for run, width in zip(runs, widths, strict=True):
        if run.font == EMOJI:
            for i, cluster in enumerate(_emoji_clusters(run.text)):
                image.paste(_emoji(cluster, style.px), (x + i * style.px, ascent - style.px))
        else:
            stroke = 1 if style.bold else 0
            draw.text(
                (x, ascent),
                _run_text(run),
                font=load(run.font, style.px),
                fill=0,
                anchor="ls",
                stroke_width=stroke,
                stroke_fill=0,
                **_draw_args(run),  # type: ignore[arg-type]
            )
        x += width
    if style.underline:
        draw.line((0, ascent + 3, image.width, ascent + 3), fill=0, width=max(1, style.px // 12))
    if style.width != style.height:
        image = image.resize((max(1, image.width * style.width // style.height), image.height))
    return image


def wrap(text: str, limit: int, style: Style, rtl: bool | None = None) -> list[str]:
    """``text`` cut into lines that fit ``limit`` dots: at spaces, between CJK characters,
    and inside a word only when the word alone is too wide."""
    direction = base_rtl(text) if rtl is None else rtl
    if measure(text, style, direction) <= limit:
        return [text]
    lines: list[str] = []
    current = ""
    for piece in _break_pieces(text):
        trial = current + piece
        if not current or measure(trial.rstrip(), style, direction) <= limit:
            current = trial
            continue
        lines.append(current.rstrip())
        current = piece.lstrip()
    if current.strip():
        lines.append(current.rstrip())
    return [part for line in lines for part in _split_wide(line, limit, style, direction)]


def _break_pieces(text: str) -> Iterator[str]:
    """Pieces a line may break after: a word with its trailing spaces, or one CJK character."""
    piece = ""
    for char in text:
        wide = unicodedata.east_asian_width(char) in ("W", "F")
        if piece and (wide or (piece[-1] == " " and char != " ")):
            yield piece
            piece = ""
        piece += char
        if wide:
            yield piece
            piece = ""
    if piece:
        yield piece


def _split_wide(word: str, limit: int, style: Style, rtl: bool) -> list[str]:
    """A word wider than the line, cut between characters (marks stay on their letter)."""
    if measure(word, style, rtl) <= limit:
        return [word]
    parts, current = [], ""
    for char in word:
        joins = unicodedata.category(char) in ("Mn", "Mc", "Me") or char in _JOINERS
        if current and not joins and measure(current + char, style, rtl) > limit:
            parts.append(current)
            current = ""
        current += char
    return [*parts, current] if current else parts
