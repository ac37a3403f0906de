"""The live registry of agents and their printers, per company and branch (this instance)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from shared.printers import AgentInfo, PrinterInfo, PrinterStatus


@dataclass
class AgentRecord:
    """An agent this hub has seen, and the printers it drives."""

    agent_id: str
    company_id: str
    branch_id: str | None
    sid: str | None = None
    info: AgentInfo | None = None
    last_seen: float = field(default_factory=time.time)
    offline_since: float | None = None
    printers: dict[str, PrinterInfo] = field(default_factory=dict)
    #: The hub instance holding the agent's socket when it is not this one (cluster mode).
    instance: str | None = None

    @property
    def online(self) -> bool:
        """Whether the agent holds a socket on this instance now."""
        return self.sid is not None


class AgentMismatch(Exception):
    """An agent id already belongs to another tenant."""


class Registry:
    """Agents by id; printers found through their agent, always scoped by company."""

    def __init__(self) -> None:
        self._agents: dict[str, AgentRecord] = {}

    def attach(
        self, agent_id: str, company_id: str, branch_id: str | None, sid: str
    ) -> AgentRecord:
        """An agent connected on ``sid``; creates or revives its record."""
        record = self._agents.get(agent_id)
        if record is not None and record.company_id != company_id:
            raise AgentMismatch(agent_id)
        if record is None:
            record = AgentRecord(agent_id, company_id, branch_id)
            self._agents[agent_id] = record
        record.branch_id, record.sid, record.offline_since = branch_id, sid, None
        record.last_seen = time.time()
        return record

    def detach(self, agent_id: str, sid: str) -> AgentRecord | None:
        """The agent's socket ``sid`` closed (ignored if a newer socket replaced it)."""
        record = self._agents.get(agent_id)
        if record is None or record.sid != sid:
            return None
        record.sid, record.offline_since = None, time.time()
        return record

    def forget(self, company_id: str, agent_id: str) -> AgentRecord | None:
        """Drop an agent of a company (revoked): it no longer appears anywhere."""
        record = self.agent(company_id, agent_id)
        if record is not None:
            del self._agents[agent_id]
        return record

    def agent(self, company_id: str, agent_id: str) -> AgentRecord | None:
        """An agent of a company (None for another company's agent)."""
        record = self._agents.get(agent_id)
        return record if record is not None and record.company_id == company_id else None

    def agents(self, company_id: str, branch_id: str | None = None) -> list[AgentRecord]:
        """Agents of a company, optionally of one branch."""
        return [
            a
            for a in self._agents.values()
            if a.company_id == company_id and (branch_id is None or a.branch_id == branch_id)
        ]

    def all_agents(self) -> list[AgentRecord]:
        """Every agent known to this instance."""
        return list(self._agents.values())

    def replace_printers(self, record: AgentRecord, printers: list[PrinterInfo]) -> None:
        """The agent's full inventory replaces what was known."""
        record.printers = {p.printer_id: p for p in printers}

    def set_printer(self, record: AgentRecord, printer: PrinterInfo) -> None:
        """Add or update one printer of an agent."""
        record.printers[printer.printer_id] = printer

    def set_status(self, record: AgentRecord, printer_id: str, status: PrinterStatus) -> bool:
        """Update a printer's status; False if the agent does not have that printer."""
        printer = record.printers.get(printer_id)
        if printer is None:
            return False
        record.printers[printer_id] = printer.model_copy(update={"status": status})
        return True

    def owners(self, company_id: str, printer_id: str) -> list[AgentRecord]:
        """Agents of a company that drive the printer, online and most recently seen first."""
        found = [a for a in self.agents(company_id) if printer_id in a.printers]
        return sorted(found, key=lambda a: (not a.online, -a.last_seen))
