"""What the printing service keeps in the database: agents, printers, status history, tests.

The live registry (who is connected where) stays in memory; this is the system of record
that survives restarts and answers the REST API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.services.agent_writes import AgentWriter
from hub.services.batching import KeyedBatcher
from hub.store import Database
from hub.store import agents as agent_store
from hub.store import audit as audit_store
from hub.store import printer_tests as test_store
from hub.store import printers as printer_store
from hub.store.agents import AgentRow
from hub.store.printer_tests import PrinterTestRow
from hub.store.printers import PrinterRow, StatusRow
from shared.events import PrinterTestRequest, PrinterTestResult
from shared.printers import PrinterInfo, PrinterStatus
from shared.tokens import Claims
from shared.wire import ErrorInfo


class AgentRefused(Exception):
    """An agent that may not connect (revoked, or its credential was replaced)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


#: Credential id of an agent first seen with a token it was not paired with (minted by
#: ``chit-hub token`` or by the platform): any valid token for it is accepted until it pairs.
UNPAIRED = "token:"


def _paired(credential_id: str) -> bool:
    """Whether the agent holds a pairing credential (then only that credential's jti works)."""
    return not credential_id.startswith(UNPAIRED)


def _now() -> datetime:
    return datetime.now(UTC)


class PrinterRecords:
    """Database side of agents and printers for one company at a time."""

    def __init__(self, db: Database, flush_interval: float = 0.2) -> None:
        self.db = db
        #: Presence, hellos and inventories go to the database in bulk (see agent_writes).
        self.writer = AgentWriter(db, flush_interval)
        #: Agent rows asked for at connect, many agents in one query (a reconnect storm).
        self._agents: KeyedBatcher[str, AgentRow | None] = KeyedBatcher(self._agents_by_id, None)

    async def admit_agent(self, agent_id: str, claims: Claims) -> None:
        """Check an agent may connect and record it; AgentRefused when it may not."""
        assert claims.company_id is not None
        if claims.branch_id is None:
            raise AgentRefused("token_claims", "desktop tokens must carry a branchId claim")
        # The branch was checked against the BranchDirectory (cached) before this is called.
        row = await self._agents.get(agent_id)
        if row is not None and row.company_id != claims.company_id:
            row = None  # another company's agent id: upsert_agent refuses it below
        if row is not None and row.revoked:
            raise AgentRefused("agent_revoked", f"agent {agent_id} was revoked; pair it again")
        if row is not None and _paired(row.credential_id) and row.credential_id != claims.jti:
            raise AgentRefused(
                "credential_replaced", "this device credential was replaced by a newer pairing"
            )
        if row is None:
            await self.writer.create(
                agent_id, claims.company_id, claims.branch_id, UNPAIRED + agent_id
            )
        else:
            await self.writer.seen(agent_id)

    async def _agents_by_id(self, agent_ids: list[str]) -> dict[str, AgentRow | None]:
        async with self.db.session() as s:
            return dict(await agent_store.agents_by_id(s, agent_ids))

    async def seen(
        self,
        agent_id: str,
        hostname: str | None = None,
        os: str | None = None,
        version: str | None = None,
    ) -> None:
        """The agent said hello (waits until stored) or beat its heart (written in bulk)."""
        said_hello = hostname is not None or os is not None or version is not None
        await self.writer.seen(agent_id, hostname, os, version, wait=said_hello)

    async def inventory(
        self, agent_id: str, company_id: str, branch_id: str, printers: list[PrinterInfo]
    ) -> None:
        """The agent's full printer list (returns once stored, in the next bulk write)."""
        await self.writer.inventory(agent_id, company_id, branch_id, printers)

    async def printer(
        self, agent_id: str, company_id: str, branch_id: str, printer: PrinterInfo
    ) -> None:
        """One printer found or found again."""
        async with self.db.session() as s:
            await printer_store.upsert_printer(s, agent_id, company_id, branch_id, printer)

    async def removed(self, agent_id: str, company_id: str, printer_id: str) -> None:
        """A printer is gone."""
        async with self.db.session() as s:
            await printer_store.mark_removed(s, company_id, agent_id, printer_id)

    async def status(
        self, agent_id: str, company_id: str, printer_id: str, status: PrinterStatus
    ) -> None:
        """A printer's status changed (kept, with history)."""
        async with self.db.session() as s:
            await printer_store.set_status(s, company_id, agent_id, printer_id, status)

    async def revoke(
        self, company_id: str, branch_id: str | None, agent_id: str, actor: str
    ) -> bool:
        """Withdraw an agent's access (within the actor's scope) and audit it."""
        async with self.db.session() as s:
            row = await agent_store.get_agent(s, company_id, agent_id)
            if row is None or (branch_id is not None and row.branch_id != branch_id):
                return False
            await agent_store.revoke(s, company_id, agent_id)
            await audit_store.record(s, company_id, actor, "agent.revoke", agent_id)
        return True

    async def printer_detail(
        self, company_id: str, branch_id: str | None, printer_id: str, limit: int = 50
    ) -> tuple[PrinterRow, list[StatusRow]] | None:
        """A printer of the caller's scope with its status history, newest first."""
        async with self.db.session() as s:
            row = await printer_store.get_printer(s, company_id, printer_id)
            if row is None or (branch_id is not None and row.branch_id != branch_id):
                return None
            history = await printer_store.status_history(
                s, company_id, printer_id, limit, row.agent_id
            )
        return row, history

    async def last_seen(self) -> list[tuple[str, str, float]]:
        """(agent id, company id, last seen) of every active agent."""
        async with self.db.session() as s:
            rows = await agent_store.active_agents(s)
        return [(r.id, r.company_id, r.last_seen.timestamp() if r.last_seen else 0.0) for r in rows]

    async def scope(
        self, company_id: str, branch_id: str | None
    ) -> tuple[list[AgentRow], list[PrinterRow]]:
        """Every stored agent (not revoked) and present printer of a company or branch."""
        async with self.db.session() as s:
            agents = await agent_store.list_agents(s, company_id, branch_id)
            printers = await printer_store.list_printers(s, company_id, branch_id)
        return [a for a in agents if not a.revoked], printers

    async def settings_in_scope(
        self, company_id: str, branch_id: str | None
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """What managers set for the scope's present printers, by (agent id, printer id)."""
        async with self.db.session() as s:
            rows = await printer_store.list_printers(s, company_id, branch_id)
        return {(r.agent_id, r.printer_id): r.settings for r in rows if r.settings}

    async def printer_owner(
        self, company_id: str, branch_id: str | None, printer_id: str
    ) -> PrinterRow | None:
        """The stored printer (and so its agent) within the caller's scope."""
        async with self.db.session() as s:
            row = await printer_store.get_printer(s, company_id, printer_id)
        if row is None or (branch_id is not None and row.branch_id != branch_id):
            return None
        return row

    async def test_requested(
        self, company_id: str, request: PrinterTestRequest, agent_id: str | None
    ) -> PrinterTestResult | None:
        """A test was asked for; the result it already has when it ran before (else None)."""
        async with self.db.write_session() as s:
            row = await test_store.record_test_request(
                s,
                company_id,
                request.correlation_id,
                request.printer_id,
                agent_id,
                request.requested_by,
            )
        return None if row.success is None else _result(row)

    async def test_finished(self, company_id: str, result: PrinterTestResult) -> PrinterTestResult:
        """A test has its result; returns the one that stands (an earlier one wins)."""
        async with self.db.write_session() as s:
            row = await test_store.save_test_result(s, company_id, result)
        return _result(row)

    async def test_late(
        self, company_id: str, agent_id: str, result: PrinterTestResult
    ) -> test_store.LateOutcome | None:
        """An agent's result that came after the hub stopped waiting (see save_late_result)."""
        async with self.db.write_session() as s:
            return await test_store.save_late_result(s, company_id, agent_id, result)

    async def recent_tests(
        self, company_id: str, branch_id: str | None, limit: int
    ) -> list[PrinterTestRow]:
        """The latest tests of a company or branch, newest first (pending ones too)."""
        async with self.db.session() as s:
            return await test_store.recent_tests(s, company_id, branch_id, limit)

    async def test_result(self, company_id: str, correlation_id: str) -> PrinterTestResult | None:
        """A finished test of the company."""
        async with self.db.session() as s:
            row = await test_store.get_test_result(s, company_id, correlation_id)
        return None if row is None or row.success is None else _result(row)


def _result(row: PrinterTestRow) -> PrinterTestResult:
    error = None
    if row.error_code:
        error = ErrorInfo(code=row.error_code, message=row.error_message or row.error_code)
    status = PrinterStatus.model_validate(row.status) if row.status else None
    return PrinterTestResult(
        correlation_id=row.correlation_id,
        printer_id=row.printer_id,
        agent_id=row.agent_id,
        success=bool(row.success),
        status=status,
        error=error,
        duration_ms=row.duration_ms or 0,
        completed_at=row.completed_at,
    )
