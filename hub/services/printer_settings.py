"""Printer settings managers set (name, profile, paper width, status channel, text mode).

The database holds them (``printers.settings``, one truth); the agent that owns the printer
is told with ``printer:configure`` when they change and again after every registration, so
an agent that was offline gets them when it reconnects. The agent applies them and reports
the printer again (``printer:discovered``), so the listings show what it now uses.
A PATCH changes only the fields it names; ``null`` puts a field back to "as discovered".
"""

from __future__ import annotations

import logging
from typing import Any

from hub.services.batching import KeyedBatcher
from hub.services.locator import AgentLocator, PrintingError, Requester
from hub.services.publisher import Publisher
from hub.services.registry import AgentRecord
from hub.store import Database
from hub.store import audit as audit_store
from hub.store import printers as printer_store
from hub.store.printers import PrinterRow
from shared.events import PrinterConfigure, PrinterSettings, lookup
from shared.namespaces import Namespace

log = logging.getLogger("chit.hub.printers")
_FIELDS = tuple(PrinterSettings.model_fields)


def merged(stored: dict[str, Any] | None, changes: PrinterSettings) -> PrinterSettings:
    """``stored`` settings with the fields ``changes`` names replaced (None clears one)."""
    current = PrinterSettings.model_validate(stored or {})
    update = {name: getattr(changes, name) for name in changes.model_fields_set}
    return current.model_copy(update=update)


class PrinterSettingsService:
    """Stores settings, audits who changed them, and hands them to the owning agent."""

    def __init__(self, db: Database, publisher: Publisher, locator: AgentLocator) -> None:
        self._db = db
        self._publisher = publisher
        self._locator = locator
        #: After a hub restart every agent registers at once: one query answers them all.
        self._stored: KeyedBatcher[str, dict[str, dict[str, Any]]] = KeyedBatcher(
            self._settings_of, {}
        )

    async def update(
        self, who: Requester, printer_id: str, changes: PrinterSettings
    ) -> tuple[PrinterRow, bool]:
        """Apply a PATCH; the stored printer and whether its agent was told now.

        PrintingError(unknown_printer) for a printer outside the caller's scope: another
        company's printer and one that does not exist get the same answer.
        """
        row = await self._locator.records.printer_owner(who.company_id, who.branch_id, printer_id)
        if row is None:
            raise PrintingError("unknown_printer", f"no printer {printer_id!r} in your scope")
        settings = merged(row.settings, changes)
        async with self._db.session() as s:
            stored = await printer_store.set_settings(
                s, who.company_id, row.agent_id, printer_id, settings.to_wire()
            )
            if stored is None:
                raise PrintingError("unknown_printer", f"no printer {printer_id!r} in your scope")
            detail = {
                "agentId": row.agent_id,
                "changes": changes.model_dump(mode="json", by_alias=True, exclude_unset=True),
            }
            await audit_store.record(
                s, who.company_id, who.name or "unknown", "printer.configure", printer_id, detail
            )
        agent = await self._locator.find_owner(who, printer_id)
        told = False
        if agent.agent_id == row.agent_id and agent.sid is not None:
            await self._send(agent.sid, printer_id, settings, who.name)
            told = True
        return stored, told

    async def resend(self, record: AgentRecord) -> int:
        """After an agent registered: every stored setting of its printers; how many went out."""
        if record.sid is None:
            return 0
        stored = await self._stored.get(record.agent_id)
        for printer_id, wire in stored.items():
            await self._send(record.sid, printer_id, PrinterSettings.model_validate(wire), None)
        return len(stored)

    async def _settings_of(self, agent_ids: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
        async with self._db.session() as s:
            return await printer_store.settings_of_agents(s, agent_ids)

    async def _send(
        self, sid: str, printer_id: str, settings: PrinterSettings, by: str | None
    ) -> None:
        fields = {name: getattr(settings, name) for name in _FIELDS}
        payload = PrinterConfigure(printer_id=printer_id, updated_by=by, **fields)
        await self._publisher.to_sid(lookup(Namespace.PRINTING, "printer:configure"), payload, sid)
        log.info("printer settings sent", extra={"printer_id": printer_id})
