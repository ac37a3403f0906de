"""Where agents are: on this instance, on another one (cluster), or known only to the store.

Everything that needs "the agent that drives this printer" or "the agents this caller may see"
asks the locator, so the lookup across the live registry, the cluster presence and the
database is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.cluster import Cluster
from hub.services.records import PrinterRecords
from hub.services.registry import AgentRecord, Registry
from hub.store.agents import AgentRow
from hub.store.printers import PrinterRow
from shared.events import AgentHello
from shared.printers import PrinterInfo, PrinterStatus


class PrintingError(Exception):
    """A request the printing service refuses (unknown printer, foreign agent, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Requester:
    """Who asks: their tenant scope bounds what they can reach."""

    company_id: str
    branch_id: str | None = None
    name: str | None = None


class AgentLocator:
    """Finds agents for printers and callers."""

    def __init__(
        self, registry: Registry, records: PrinterRecords, cluster: Cluster | None
    ) -> None:
        self.registry = registry
        self.records = records
        self.cluster = cluster

    def printers_for(self, requester: Requester) -> list[tuple[AgentRecord, str]]:
        """(agent, printer id) pairs the requester may see on this instance."""
        return [
            (agent, printer_id)
            for agent in self.registry.agents(requester.company_id, requester.branch_id)
            for printer_id in agent.printers
        ]

    async def agents_in_scope(
        self, requester: Requester, branch_id: str | None = None
    ) -> list[AgentRecord]:
        """Agents the requester may see, with printers and live state, across the cluster.

        On one instance the live registry is the whole truth. In a cluster, agents connected to
        other instances come from the database, their online state from the cluster presence.
        """
        branch = requester.branch_id or branch_id
        local = self.registry.agents(requester.company_id, branch)
        if self.cluster is None:
            return local
        live = {a.agent_id: a for a in local if a.online}
        rows, printers = await self.records.scope(requester.company_id, branch)
        out = list(live.values())
        for row in rows:
            if row.id in live:
                continue
            record = await self.remote(requester.company_id, row.id, row.branch_id) or AgentRecord(
                row.id, row.company_id, row.branch_id
            )
            record.info = agent_info(row)
            record.last_seen = row.last_seen.timestamp() if row.last_seen else 0.0
            record.printers = {
                p.printer_id: stored_printer(p) for p in printers if p.agent_id == row.id
            }
            out.append(record)
        return sorted(out, key=lambda a: a.agent_id)

    def owner_for(self, requester: Requester, printer_id: str) -> AgentRecord:
        """The agent that should print for this requester, or PrintingError(unknown_printer)."""
        owners = [
            a
            for a in self.registry.owners(requester.company_id, printer_id)
            if requester.branch_id is None or a.branch_id == requester.branch_id
        ]
        if not owners:
            raise PrintingError("unknown_printer", f"no printer {printer_id!r} in your scope")
        return owners[0]

    async def find_owner(self, requester: Requester, printer_id: str) -> AgentRecord:
        """Like :meth:`owner_for`, also finding agents on other instances or known offline."""
        try:
            local: AgentRecord | None = self.owner_for(requester, printer_id)
        except PrintingError:
            local = None
        if local is not None and local.online:
            return local
        row = await self.records.printer_owner(
            requester.company_id, requester.branch_id, printer_id
        )
        if row is None:
            if local is None:
                raise PrintingError("unknown_printer", f"no printer {printer_id!r} in your scope")
            return local
        remote = None
        if self.cluster is not None:
            remote = await self.remote(requester.company_id, row.agent_id, row.branch_id)
        return remote or local or AgentRecord(row.agent_id, requester.company_id, row.branch_id)

    async def remote(
        self, company_id: str, agent_id: str, branch_id: str | None
    ) -> AgentRecord | None:
        """The agent as connected to another instance, if it is."""
        assert self.cluster is not None
        where = await self.cluster.state.agent_location(agent_id)
        if not where or where.get("company") != company_id:
            return None
        return AgentRecord(
            agent_id,
            company_id,
            where.get("branch") or branch_id,
            sid=where["sid"],
            instance=where["instance"],
        )


def agent_info(row: AgentRow) -> AgentHello | None:
    """What a stored agent said about itself, when it did."""
    if not row.hostname:
        return None
    return AgentHello(
        agent_id=row.id, hostname=row.hostname, os=row.os or "", version=row.version or ""
    )


def stored_printer(row: PrinterRow) -> PrinterInfo:
    """A stored printer with its last status."""
    status = PrinterStatus.model_validate(row.last_status) if row.last_status else None
    return PrinterInfo.model_validate(row.info).model_copy(update={"status": status})
