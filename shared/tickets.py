"""Kitchen tickets, sans-IO: stations, routing rules, the per-station delta, ticket ids.

Theory of operation. A branch has stations (Grill, Cold, Bar, Pass), each with a primary
printer, an optional backup and a ticket layout. Rules map an order line's category or tags
to stations; a line may name its station outright, and a rule matching ``all`` sends every
line to a station as well (the pass gets everything). A line that nothing specific matches
goes to the branch's default station, when there is one; otherwise it goes nowhere, and the
reason is said (:func:`route_line`).

The platform sends the whole order on every change (``lines``, with a growing
``orderVersion``). What a station must print for a version is the difference between what it
was sent already and what the order now asks of it (:func:`station_delta`): added lines,
quantity changes, and lines taken off the order, printed as VOID. A station whose lines did
not change prints nothing. Cancelling an order voids whatever each station still has.

A ticket's print job id is derived from (company, order id, order version, station)
(:func:`ticket_job_id`), so the same event published twice, or handled again after a crash,
makes the same job, which prints once.

The ticket itself is a :class:`~shared.documents.ReceiptDocument` (shared.ticket_documents),
so it prints through the same renderer as every other document.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Final, Literal, get_args

from pydantic import Field, StringConstraints, field_validator, model_validator

from shared.events import OrderEvent, OrderLine, OrderType
from shared.wire import Identifier, PrinterId, WireModel

#: What a station's ticket may show besides the items (all of it by default).
TicketField = Literal[
    "orderType", "table", "guests", "placedAt", "orderNotes", "modifiers", "lineNotes", "altName"
]
TICKET_FIELDS: Final[tuple[TicketField, ...]] = get_args(TicketField)
#: Most stations a branch may have, and most rules.
MAX_STATIONS: Final = 50
MAX_RULES: Final = 200
#: Fixed namespace of the ticket job ids (uuid5), so every hub derives the same id.
TICKET_NAMESPACE: Final = uuid.UUID("6b0f3c55-3f4e-5a7e-9d0e-6c1f7a2b9e41")

StationName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
RuleValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class RoutingError(Exception):
    """Stations or rules that contradict each other (the caller's mistake, never the peer's)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class TicketLayout(WireModel):
    """How a station's tickets look: which fields, how big, prices or not, how many copies."""

    fields: list[TicketField] = Field(default_factory=lambda: list(TICKET_FIELDS))
    font_size: Literal["normal", "large"] = "normal"
    prices: bool = False
    copies: Annotated[int, Field(ge=1, le=5)] = 1

    @field_validator("fields")
    @classmethod
    def _unique(cls, value: list[TicketField]) -> list[TicketField]:
        return list(dict.fromkeys(value))


class Station(WireModel):
    """A kitchen station of a branch and where its tickets print."""

    station_id: Identifier
    name: StationName
    primary_printer_id: PrinterId
    backup_printer_id: PrinterId | None = None
    layout: TicketLayout = Field(default_factory=TicketLayout)

    @model_validator(mode="after")
    def _backup_differs(self) -> Station:
        if self.backup_printer_id == self.primary_printer_id:
            raise ValueError("backupPrinterId must differ from primaryPrinterId")
        return self


class RoutingRule(WireModel):
    """Lines whose category (or one of whose tags) is ``value`` go to ``station_ids``.

    ``match: all`` takes no value: every line goes to those stations too.
    """

    match: Literal["category", "tag", "all"]
    value: RuleValue | None = None
    station_ids: Annotated[list[Identifier], Field(min_length=1, max_length=20)]

    @model_validator(mode="after")
    def _value_fits_match(self) -> RoutingRule:
        if self.match == "all" and self.value is not None:
            raise ValueError("a rule matching all lines takes no value")
        if self.match != "all" and self.value is None:
            raise ValueError(f"a {self.match} rule needs a value")
        return self


class RoutingRules(WireModel):
    """A branch's rules, applied all together, and the station for lines nothing matches."""

    default_station_id: Identifier | None = None
    rules: Annotated[list[RoutingRule], Field(max_length=MAX_RULES)] = Field(default_factory=list)


def check_rules(rules: RoutingRules, station_ids: Collection[str]) -> None:
    """RoutingError(unknown_station) when the rules name a station the branch does not have."""
    if rules.default_station_id is not None and rules.default_station_id not in station_ids:
        raise RoutingError(
            "unknown_station",
            f"defaultStationId: no station {rules.default_station_id!r} in this branch",
            "defaultStationId",
        )
    for n, rule in enumerate(rules.rules):
        for m, station_id in enumerate(rule.station_ids):
            if station_id not in station_ids:
                field = f"rules.{n}.stationIds.{m}"
                raise RoutingError(
                    "unknown_station", f"{field}: no station {station_id!r} in this branch", field
                )


def check_stations(stations: Sequence[Station]) -> None:
    """RoutingError when two stations share an id, or there are too many."""
    if len(stations) > MAX_STATIONS:
        raise RoutingError("too_many_stations", f"a branch has at most {MAX_STATIONS} stations")
    seen: set[str] = set()
    for n, station in enumerate(stations):
        if station.station_id in seen:
            raise RoutingError(
                "duplicate_station",
                f"stations.{n}.stationId: {station.station_id!r} appears twice",
                f"stations.{n}.stationId",
            )
        seen.add(station.station_id)


# --- routing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRoute:
    """Where one line goes, and why (or why nowhere)."""

    line: OrderLine
    station_ids: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def routed(self) -> bool:
        """Whether any station gets the line."""
        return bool(self.station_ids)


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.casefold() == b.casefold()


def _matches(rule: RoutingRule, line: OrderLine) -> str | None:
    """Why ``rule`` takes ``line`` (categories and tags compare case-insensitively)."""
    if rule.match == "category" and _same(rule.value, line.category):
        return f"category {line.category!r}"
    if rule.match == "tag" and any(_same(rule.value, tag) for tag in line.tags or ()):
        return f"tag {rule.value!r}"
    return None


def _unrouted_reason(line: OrderLine) -> str:
    what = [f"category {line.category!r}"] if line.category else ["no category"]
    if line.tags:
        what.append("tags " + ", ".join(repr(t) for t in line.tags))
    return f"{' and '.join(what)}: no rule matches and the branch has no default station"


def route_line(line: OrderLine, station_ids: Collection[str], rules: RoutingRules) -> LineRoute:
    """The stations a line goes to: its own station, else the matching rules, else the
    default; plus every ``all`` rule."""
    picked: dict[str, str] = {}
    notes: list[str] = []
    if line.station is not None:
        if line.station in station_ids:
            picked[line.station] = "named by the line"
        else:
            notes.append(f"names station {line.station!r}, which the branch does not have")
    if not picked:
        for rule in rules.rules:
            why = _matches(rule, line)
            for station_id in rule.station_ids if why else ():
                if station_id in station_ids:
                    picked.setdefault(station_id, why or "")
    default = rules.default_station_id
    if not picked and default is not None and default in station_ids:
        picked[default] = "default station"
    for rule in rules.rules:
        for station_id in rule.station_ids if rule.match == "all" else ():
            if station_id in station_ids:
                picked.setdefault(station_id, "every line")
    if not picked:
        notes.append(_unrouted_reason(line))
    return LineRoute(line, tuple(picked), (*notes, *picked.values()))


def route_order(
    lines: Iterable[OrderLine], station_ids: Collection[str], rules: RoutingRules
) -> list[LineRoute]:
    """Every line's route, in order."""
    return [route_line(line, station_ids, rules) for line in lines]


def keep_routes(
    routes: Iterable[LineRoute],
    sent: Mapping[str, Mapping[str, object]],
    station_ids: Collection[str],
) -> list[LineRoute]:
    """Lines a station was sent already stay with the stations that have them.

    Rules may change while an order is open; a dish the grill is making must not be voided
    there and sent to another station because of that. New lines follow the rules of now, and
    so do lines whose stations were all deleted since.
    """
    holders: dict[str, list[str]] = {}
    for station_id, lines in sent.items():
        for line_id in lines if station_id in station_ids else ():
            holders.setdefault(line_id, []).append(station_id)
    kept = []
    for route in routes:
        stations = holders.get(route.line.line_id)
        if stations:
            route = LineRoute(route.line, tuple(stations), ("sent there before",) * len(stations))
        kept.append(route)
    return kept


# --- what a station was sent, and what changed ---------------------------------------------------


class TicketItem(WireModel):
    """A line as a station knows it: what was printed for it."""

    line_id: str
    name: str
    alt_name: str | None = None
    quantity: int
    modifiers: tuple[str, ...] = ()
    notes: str | None = None
    price: float | None = None

    @classmethod
    def of(cls, line: OrderLine) -> TicketItem:
        """The item an order line asks for."""
        return cls(
            line_id=line.line_id,
            name=line.name,
            alt_name=line.alt_name,
            quantity=line.quantity,
            modifiers=tuple(line.modifiers or ()),
            notes=line.notes,
            price=line.price,
        )

    def same_dish(self, other: TicketItem) -> bool:
        """Whether two items differ at most in quantity."""
        return self.model_copy(update={"quantity": other.quantity}) == other


class TicketLine(WireModel):
    """One line of a ticket: a new item, a quantity change, or a VOID."""

    change: Literal["add", "quantity", "void"]
    item: TicketItem
    previous_quantity: int | None = None


StationItems = Mapping[str, TicketItem]


def wanted_items(routes: Iterable[LineRoute]) -> dict[str, dict[str, TicketItem]]:
    """Per station, the items the order now asks of it (line id -> item), in order."""
    wanted: dict[str, dict[str, TicketItem]] = {}
    for route in routes:
        for station_id in route.station_ids:
            wanted.setdefault(station_id, {})[route.line.line_id] = TicketItem.of(route.line)
    return wanted


def station_delta(sent: StationItems, wanted: StationItems) -> list[TicketLine]:
    """What a station must print to go from ``sent`` to ``wanted``; empty when nothing changed.

    A line gone from the order is a VOID; a line whose quantity alone changed is a quantity
    change; a line changed otherwise (name, modifiers, notes) is a VOID of the old and the new
    line added, so the cook sees exactly what to stop and what to make.
    """
    out: list[TicketLine] = []
    for line_id, old in sent.items():
        new = wanted.get(line_id)
        if new is None:
            out.append(TicketLine(change="void", item=old))
        elif new == old:
            continue
        elif old.same_dish(new):
            out.append(TicketLine(change="quantity", item=new, previous_quantity=old.quantity))
        else:
            out += [TicketLine(change="void", item=old), TicketLine(change="add", item=new)]
    out += [TicketLine(change="add", item=new) for key, new in wanted.items() if key not in sent]
    return out


def voids(sent: StationItems) -> list[TicketLine]:
    """Every line a station has, voided (the order was cancelled)."""
    return [TicketLine(change="void", item=item) for item in sent.values()]


# --- the order's header and ticket ids ----------------------------------------------------------


class TicketHeader(WireModel):
    """What a ticket says about its order, besides the lines."""

    order_id: str
    order_version: int | None = None
    order_number: str | None = None
    order_type: OrderType | None = None
    table: str | None = None
    guest_count: int | None = None
    placed_at: str | None = None
    notes: str | None = None

    @classmethod
    def of(cls, event: OrderEvent, earlier: TicketHeader | None = None) -> TicketHeader:
        """The header of an order event; fields it leaves out keep the earlier header's."""
        mine = cls(
            order_id=event.order_id,
            order_version=event.order_version,
            order_number=event.order_number,
            order_type=event.order_type,
            table=event.table,
            guest_count=event.guest_count,
            placed_at=event.placed_at.isoformat() if event.placed_at else None,
            notes=event.notes,
        )
        if earlier is None:
            return mine
        return earlier.model_copy(update=mine.model_dump(exclude_none=True))


TicketKind = Literal["order", "update", "void"]


def ticket_kind(sent: StationItems, cancelled: bool) -> TicketKind:
    """A station's first ticket of an order, a later change, or the cancellation's VOID."""
    if cancelled:
        return "void"
    return "update" if sent else "order"


def ticket_job_id(company_id: str, order_id: str, version: int | str, station_id: str) -> str:
    """The print job id of a station's ticket for one order version (``"cancel"`` for VOIDs)."""
    name = "\x1f".join((company_id, order_id, str(version), station_id))
    return str(uuid.uuid5(TICKET_NAMESPACE, name))
