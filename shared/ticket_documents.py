"""A kitchen ticket as a ReceiptDocument: station, order number, table, the lines, the marks.

Pure functions. The ticket is built for the station's layout (which fields, font size,
prices). Only ASCII is put around the platform's own text, so every printer code page can
print the frame. A reprint carries no mark of its own: the agent prints "COPY" above every
job that is a copy (``copy_of``). A ticket sent to a backup printer gets "REROUTED from
<station>" above everything (:func:`rerouted`).

A receipt document holds at most :data:`MAX_DOCUMENT_LINES` lines. A ticket that would need
more (hundreds of lines with modifiers and notes) is printed compact, one line per item, and
the printer wraps long lines itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from shared.documents import DocumentLine, FeedLine, ReceiptDocument, TextLine
from shared.tickets import TicketHeader, TicketKind, TicketLayout, TicketLine

MAX_DOCUMENT_LINES: Final = 500
#: How much of the order's notes a ticket prints.
NOTE_CHARS: Final = 1000
RULE: Final = "-" * 32
_TYPES: Final = {"dine-in": "Dine-in", "takeaway": "Takeaway", "delivery": "Delivery"}
_TITLES: Final[dict[TicketKind, str | None]] = {
    "order": None,
    "update": "UPDATE",
    "void": "VOID - ORDER CANCELLED",
}


def _big(text: str) -> TextLine:
    return TextLine(text=text, bold=True, align="center", width=2, height=2)


def _clock(iso: str) -> str:
    """ "12:04" in the time zone the platform gave."""
    try:
        return datetime.fromisoformat(iso).strftime("%H:%M")
    except ValueError:
        return iso[:16]


def _info(header: TicketHeader, fields: Sequence[str]) -> list[TextLine]:
    """Table and guests; order type and placed-at time: as the layout asks."""
    where = []
    if "table" in fields and header.table:
        where.append(f"Table {header.table}")
    if "guests" in fields and header.guest_count:
        where.append(f"{header.guest_count} guest{'s' if header.guest_count != 1 else ''}")
    when = []
    if "orderType" in fields and header.order_type:
        when.append(_TYPES[header.order_type])
    if "placedAt" in fields and header.placed_at:
        when.append(_clock(header.placed_at))
    lines = [TextLine(text=" / ".join(where), bold=True, align="center")] if where else []
    return lines + ([TextLine(text=" / ".join(when), align="center")] if when else [])


def _label(line: TicketLine, layout: TicketLayout) -> str:
    item = line.item
    price = ""
    if layout.prices and item.price is not None and line.change != "void":
        price = f"  {item.price * item.quantity:.2f}"
    if line.change == "void":
        return f"VOID {item.quantity} x {item.name}"
    if line.change == "quantity":
        return f"QTY {line.previous_quantity} -> {item.quantity}  {item.name}{price}"
    return f"{item.quantity} x {item.name}{price}"


def _details(line: TicketLine, fields: Sequence[str]) -> list[str]:
    """The item's second name, modifiers and notes (not on a VOID: nothing to make)."""
    item = line.item
    if line.change == "void":
        return []
    out = []
    if "altName" in fields and item.alt_name:
        out.append(f"    {item.alt_name}")
    if "modifiers" in fields and item.modifiers:
        out.append("  + " + ", ".join(item.modifiers))
    if "lineNotes" in fields and item.notes:
        out.append(f"  ! {item.notes}")
    return out


def _item_lines(line: TicketLine, layout: TicketLayout, compact: bool) -> list[TextLine]:
    label, details = _label(line, layout), _details(line, layout.fields)
    height = 2 if layout.font_size == "large" else 1
    void = line.change == "void"
    if compact:
        text = " ".join([label, *(d.strip() for d in details)])
        return [TextLine(text=text[:2000], bold=void, height=height)]
    first = TextLine(text=label, bold=void or height == 2, underline=void, height=height)
    return [first, *(TextLine(text=d) for d in details)]


def _head(
    station_name: str, header: TicketHeader, kind: TicketKind, layout: TicketLayout
) -> list[TextLine]:
    title = _TITLES[kind]
    number = header.order_number or header.order_id
    lines = [_big(station_name.upper()[:60]), _big(f"#{number}")]
    lines += [TextLine(text=title, bold=True, align="center")] if title else []
    return lines + _info(header, layout.fields)


def _foot(header: TicketHeader, layout: TicketLayout) -> list[TextLine]:
    lines = []
    if "orderNotes" in layout.fields and header.notes:
        lines.append(TextLine(text=f"Note: {header.notes}"[:NOTE_CHARS], bold=True))
    version = f"v{header.order_version} / " if header.order_version else ""
    return [*lines, TextLine(text=f"{version}order {header.order_id}", align="center")]


def ticket_document(
    station_name: str,
    layout: TicketLayout,
    header: TicketHeader,
    lines: Sequence[TicketLine],
    kind: TicketKind,
) -> ReceiptDocument:
    """The ticket a station prints for ``lines`` (compact when the full form is too long)."""
    head, foot = _head(station_name, header, kind, layout), _foot(header, layout)
    rule = TextLine(text=RULE)
    body: list[TextLine] = [t for line in lines for t in _item_lines(line, layout, False)]
    if len(head) + len(body) + len(foot) + 2 > MAX_DOCUMENT_LINES:
        body = [t for line in lines for t in _item_lines(line, layout, True)]
    document: list[DocumentLine] = [*head, rule, *body, rule, *foot]
    return ReceiptDocument(lines=document[:MAX_DOCUMENT_LINES])


def rerouted(document: ReceiptDocument, station_name: str) -> ReceiptDocument:
    """The ticket marked for the backup printer: "REROUTED from <station>" on top."""
    banner: list[DocumentLine] = [
        TextLine(text=f"REROUTED from {station_name}"[:2000], bold=True, align="center", height=2)
    ]
    if len(document.lines) + 2 <= MAX_DOCUMENT_LINES:
        banner.append(FeedLine(type="feed"))
    lines = [*banner, *document.lines][:MAX_DOCUMENT_LINES]
    return document.model_copy(update={"lines": lines})


def document_text(document: ReceiptDocument) -> list[str]:
    """The ticket as plain text lines (what the preview shows; feeds as blank lines)."""
    out: list[str] = []
    for line in document.lines:
        if isinstance(line, TextLine):
            out.append(line.text)
        elif isinstance(line, FeedLine):
            out += [""] * line.lines
    return out
