"""The simple receipt document: what a print job may carry instead of raw ESC/POS bytes.

Pure data. The agent turns it into bytes with python-escpos and the printer's profile: text the
printer's code pages hold goes as text, any other script (Arabic, Hebrew, Thai, CJK, emoji...)
as an image, per the printer's text mode.

Direction: each line reads in the direction of its first strong letter (an Arabic line right to
left, an English one left to right, whatever the document). ``align`` "start" and "end" follow
the document's ``direction``: in an ``rtl`` document "start" is the right edge; in an ``auto``
one each line's own direction decides. "left", "center" and "right" are absolute.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from shared.wire import MULTILINE, LongText, Printable, WireModel

Align = Literal["start", "end", "left", "center", "right"]
Direction = Literal["auto", "ltr", "rtl"]
#: How a printer gets text: ``auto`` per line (text where its code pages hold the line, else an
#: image), always ``text`` (what no code page holds prints as "?"), or always ``image``.
TextMode = Literal["auto", "text", "image"]
TEXT_MODES: tuple[TextMode, ...] = ("auto", "text", "image")


class TextLine(WireModel):
    """A line of text."""

    type: Literal["text"] = "text"
    text: LongText
    bold: bool = False
    underline: bool = False
    align: Align = "start"
    #: Character magnification, 1 (normal) to 4.
    width: Annotated[int, Field(ge=1, le=4)] = 1
    height: Annotated[int, Field(ge=1, le=4)] = 1


class PairLine(WireModel):
    """Two texts on one line, one at each edge: the same item in two languages, or a label and
    its price. Printed on two lines (left, then right) when both do not fit side by side."""

    type: Literal["pair"]
    left: Annotated[str, StringConstraints(max_length=1000)]
    right: Annotated[str, StringConstraints(max_length=1000)]
    bold: bool = False
    width: Annotated[int, Field(ge=1, le=4)] = 1
    height: Annotated[int, Field(ge=1, le=4)] = 1


class QrLine(WireModel):
    """A QR code."""

    type: Literal["qr"]
    data: Annotated[str, StringConstraints(min_length=1, max_length=1000), Printable(MULTILINE)]
    size: Annotated[int, Field(ge=1, le=16)] = 6
    align: Align = "center"


class FeedLine(WireModel):
    """Blank lines."""

    type: Literal["feed"]
    lines: Annotated[int, Field(ge=1, le=20)] = 1


class CutLine(WireModel):
    """Cut the paper (partial cut when ``partial``)."""

    type: Literal["cut"]
    partial: bool = False


DocumentLine = Annotated[
    TextLine | PairLine | QrLine | FeedLine | CutLine, Field(discriminator="type")
]


class ReceiptDocument(WireModel):
    """A receipt: lines printed top to bottom; a cut is added at the end when ``cut``."""

    lines: Annotated[list[DocumentLine], Field(min_length=1, max_length=500)]
    cut: bool = True
    #: Which edge "start" alignment means: ``rtl`` for a right-to-left receipt.
    direction: Direction = "auto"
