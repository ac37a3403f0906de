"""A branch's kitchen stations and routing rules: checked, stored, audited, previewed.

A station's printers must be printers the hub knows in that branch (an agent reported them),
so a typo never silently prints nowhere. Rules may name only the branch's stations, and a
station that rules or the default still send lines to cannot be deleted. The preview routes
a sample order through stations and rules that may not be saved yet, and shows each
station's ticket, so a manager sees the effect of an edit before saving it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.services.locator import Requester
from hub.services.records import PrinterRecords
from hub.store import Database
from hub.store import audit as audit_store
from hub.store import tickets as ticket_store
from hub.store.tickets import StationRow
from shared.events import OrderEvent
from shared.ticket_documents import document_text, ticket_document
from shared.tickets import (
    MAX_STATIONS,
    RoutingError,
    RoutingRules,
    Station,
    TicketHeader,
    check_rules,
    check_stations,
    route_order,
    station_delta,
    wanted_items,
)


class StationError(Exception):
    """A station or rule change refused; ``status`` is the HTTP status it answers."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass(frozen=True)
class Preview:
    """Which station gets which line of a sample order, and each station's ticket."""

    lines: list[dict[str, Any]]
    stations: list[dict[str, Any]]


def station_view(row: StationRow) -> dict[str, Any]:
    """A stored station as the API shows it."""
    return {**row.station.to_wire(), "isDefault": row.is_default}


def _refusal(exc: RoutingError) -> StationError:
    return StationError(422, exc.code, exc.message, exc.field)


class StationService:
    """Stations and rules of the caller's branches."""

    def __init__(self, db: Database, records: PrinterRecords) -> None:
        self._db = db
        self._records = records

    async def stations(self, branch_id: str) -> list[StationRow]:
        """The branch's stations, by name."""
        async with self._db.session() as s:
            return await ticket_store.list_stations(s, branch_id)

    async def rules(self, branch_id: str) -> RoutingRules:
        """The branch's rules."""
        async with self._db.session() as s:
            return await ticket_store.get_rules(s, branch_id)

    async def put(
        self, who: Requester, branch_id: str, station: Station, *, create_only: bool = False
    ) -> tuple[StationRow, bool]:
        """Create or replace a station after checking its printers; audited."""
        await self._check_printers(who.company_id, branch_id, station)
        async with self._db.session() as s:
            existing = await ticket_store.get_station(s, branch_id, station.station_id)
            if existing is not None and create_only:
                raise StationError(
                    409, "station_exists", f"station {station.station_id!r} exists already"
                )
            if existing is None and len(await ticket_store.list_stations(s, branch_id)) >= (
                MAX_STATIONS
            ):
                raise StationError(
                    422, "too_many_stations", f"a branch has at most {MAX_STATIONS} stations"
                )
            row, created = await ticket_store.put_station(s, who.company_id, branch_id, station)
            action = "station.created" if created else "station.updated"
            await _audit(
                s,
                who,
                action,
                _target(branch_id, station.station_id),
                station.to_wire(),
            )
        return row, created

    async def delete(self, who: Requester, branch_id: str, station_id: str) -> None:
        """Delete a station nothing routes to any more; audited."""
        async with self._db.session() as s:
            rules = await ticket_store.get_rules(s, branch_id)
            if station_id == rules.default_station_id or any(
                station_id in rule.station_ids for rule in rules.rules
            ):
                raise StationError(
                    409,
                    "station_in_use",
                    f"rules (or the default) send lines to {station_id!r}: change them first",
                )
            if not await ticket_store.delete_station(s, branch_id, station_id):
                raise StationError(404, "not_found", f"no station {station_id!r} in this branch")
            await _audit(
                s,
                who,
                "station.deleted",
                _target(branch_id, station_id),
            )

    async def put_rules(self, who: Requester, branch_id: str, rules: RoutingRules) -> None:
        """Replace the branch's rules after checking they name its stations; audited."""
        async with self._db.session() as s:
            known = {
                row.station.station_id for row in await ticket_store.list_stations(s, branch_id)
            }
            try:
                check_rules(rules, known)
            except RoutingError as exc:
                raise _refusal(exc) from None
            await ticket_store.put_rules(s, who.company_id, branch_id, rules)
            await _audit(
                s,
                who,
                "rules.updated",
                branch_id,
                rules.to_wire(),
            )

    async def preview(
        self,
        branch_id: str,
        order: OrderEvent,
        stations: Sequence[Station] | None = None,
        rules: RoutingRules | None = None,
    ) -> Preview:
        """Route a sample order (through the given stations and rules, else the saved ones)."""
        if stations is None:
            stations = [row.station for row in await self.stations(branch_id)]
        if rules is None:
            rules = await self.rules(branch_id)
        try:
            check_stations(stations)
            check_rules(rules, {s.station_id for s in stations})
        except RoutingError as exc:
            raise _refusal(exc) from None
        return preview(order, stations, rules)

    async def _check_printers(self, company_id: str, branch_id: str, station: Station) -> None:
        printers = [("primaryPrinterId", station.primary_printer_id)]
        if station.backup_printer_id is not None:
            printers.append(("backupPrinterId", station.backup_printer_id))
        for field, printer_id in printers:
            if await self._records.printer_owner(company_id, branch_id, printer_id) is None:
                raise StationError(
                    422,
                    "unknown_printer",
                    f"{field}: no printer {printer_id!r} in branch {branch_id}",
                    field,
                )


async def _audit(
    session: AsyncSession, who: Requester, action: str, target: str, detail: Any = None
) -> None:
    await audit_store.record(session, who.company_id, who.name or "unknown", action, target, detail)


def _target(branch_id: str, station_id: str) -> str:
    return f"{branch_id}/{station_id}"[:200]


def preview(order: OrderEvent, stations: Sequence[Station], rules: RoutingRules) -> Preview:
    """Where each line of ``order`` goes and what each station would print (pure)."""
    by_id = {s.station_id: s for s in stations}
    routes = route_order(order.lines or [], by_id, rules)
    wanted = wanted_items(routes)
    header = TicketHeader.of(order)
    cards = []
    for station in sorted(stations, key=lambda s: s.name.casefold()):
        lines = station_delta({}, wanted.get(station.station_id, {}))
        document = (
            ticket_document(station.name, station.layout, header, lines, "order") if lines else None
        )
        cards.append(
            {
                "stationId": station.station_id,
                "name": station.name,
                "lineIds": [line.item.line_id for line in lines],
                "ticket": document_text(document) if document else [],
            }
        )
    line_views = [
        {
            "lineId": r.line.line_id,
            "name": r.line.name,
            "stationIds": list(r.station_ids),
            "reasons": list(r.reasons),
        }
        for r in routes
    ]
    return Preview(line_views, cards)
