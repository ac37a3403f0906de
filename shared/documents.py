"""The simple receipt document: what a print job may carry instead of raw ESC/POS bytes.

Pure data. The agent turns it into bytes with python-escpos and the printer's profile.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from shared.wire import MULTILINE, LongText, Printable, WireModel

Align = Literal["left", "center", "right"]


class TextLine(WireModel):
    """A line of text."""

    type: Literal["text"] = "text"
    text: LongText
    bold: bool = False
    underline: bool = False
    align: Align = "left"
    #: Character magnification, 1 (normal) to 4.
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


DocumentLine = Annotated[TextLine | QrLine | FeedLine | CutLine, Field(discriminator="type")]


class ReceiptDocument(WireModel):
    """A receipt: lines printed top to bottom; a cut is added at the end when ``cut``."""

    lines: Annotated[list[DocumentLine], Field(min_length=1, max_length=500)]
    cut: bool = True
