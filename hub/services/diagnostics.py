"""Diagnostics from the hub: ask an agent for a bundle, keep its answer for a while, serve it.

``request`` records the request and sends ``agent:diagnostics`` to the agent's socket (on any
instance: the Socket.IO manager routes by sid); the agent answers with
``agent:diagnostics:bundle`` on whichever instance holds it, and ``receive`` stores the bundle
in the database, so every instance serves the same download. A request the agent has not
answered within :data:`ANSWER_TIMEOUT` reads as failed, and while one is pending a second
request for the same agent returns it instead of asking again. Bundles are kept for :data:`KEEP`.
The agent redacts its bundle; the hub masks anything shaped like a JWT once more before storing
it, because a leaked token in a support download is the one mistake this must never make.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.services.locator import AgentLocator, Requester
from hub.services.publisher import Publisher
from hub.services.registry import AgentRecord
from hub.store import Database, diagnostics
from hub.store.columns import utcnow
from hub.store.diagnostics import DiagnosticsRow
from shared.diagnostics import MAX_BUNDLE_BYTES, DiagnosticsRequest, DiagnosticsUpload
from shared.events import lookup
from shared.namespaces import Namespace

log = logging.getLogger("chit.hub.diagnostics")
#: How long a bundle is kept (then deleted): long enough for a support ticket's first round.
KEEP = timedelta(hours=72)
#: How long an agent has to answer before the request reads as failed.
ANSWER_TIMEOUT = timedelta(minutes=2)
NO_ANSWER = "the agent did not answer within 2 minutes (it may have gone offline)"
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


class DiagnosticsRefused(Exception):
    """A request that cannot go out: an unknown (or foreign) agent, or one that is offline."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Outcome:
    """A request as callers see it now: its row and its state at this moment."""

    row: DiagnosticsRow
    state: str
    error: str | None


def outcome(row: DiagnosticsRow, now: datetime | None = None) -> Outcome:
    """``requested`` past the answer timeout reads as ``failed``."""
    late = row.state == "requested" and row.requested_at + ANSWER_TIMEOUT <= (now or utcnow())
    return Outcome(row, "failed" if late else row.state, NO_ANSWER if late else row.error)


def _masked(bundle: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The bundle with JWT-shaped text masked, and its size in bytes of JSON."""
    text = _JWT.sub("[redacted]", json.dumps(bundle, ensure_ascii=False))
    masked: dict[str, Any] = json.loads(text)
    return masked, len(text.encode())


class DiagnosticsService:
    """Stateless: everything lives in the database, so any instance can answer."""

    def __init__(self, db: Database, publisher: Publisher, locator: AgentLocator) -> None:
        self._db, self._publisher, self._locator = db, publisher, locator

    async def _agent(self, who: Requester, agent_id: str) -> AgentRecord:
        for record in await self._locator.agents_in_scope(who):
            if record.agent_id == agent_id:
                return record
        raise DiagnosticsRefused("not_found", "no such agent")

    async def request(self, who: Requester, agent_id: str) -> DiagnosticsRow:
        """Ask the agent for a bundle; DiagnosticsRefused when it is not there or offline."""
        record = await self._agent(who, agent_id)
        if not record.online or record.sid is None:
            message = f"agent {agent_id} is offline: diagnostics need it connected"
            raise DiagnosticsRefused("agent_offline", message)
        async with self._db.session() as s:
            await diagnostics.purge_expired(s)
            pending = [
                found
                for found in await diagnostics.list_for_agent(s, who.company_id, agent_id)
                if outcome(found).state == "requested"
            ]
            if pending:  # one collection at a time: a second click joins the first
                return pending[0]
            row = await diagnostics.create(
                s, who.company_id, agent_id, record.branch_id or "", who.name or "unknown", KEEP
            )
        payload = DiagnosticsRequest(diagnostics_id=row.id, requested_by=who.name)
        await self._publisher.to_sid(
            lookup(Namespace.PRINTING, "agent:diagnostics"), payload, record.sid
        )
        log.info("diagnostics requested", extra={"agent_id": agent_id, "diagnostics_id": row.id})
        return row

    async def receive(self, record: AgentRecord, upload: DiagnosticsUpload) -> bool:
        """Store an agent's answer to its own request; False when it asked for none."""
        bundle, size, error = None, None, upload.error.message if upload.error else None
        if upload.bundle is not None:
            bundle, size = _masked(upload.bundle.to_wire())
            if size > MAX_BUNDLE_BYTES:
                bundle, error = None, f"the bundle was {size} bytes, over {MAX_BUNDLE_BYTES}"
        error = error if bundle is None else None
        if bundle is None and error is None:
            error = "the agent sent no bundle"
        async with self._db.session() as s:
            stored = await diagnostics.complete(
                s,
                record.company_id,
                record.agent_id,
                upload.diagnostics_id,
                bundle=bundle,
                size_bytes=size if bundle is not None else None,
                error=error,
            )
        fields = {"agent_id": record.agent_id, "diagnostics_id": upload.diagnostics_id}
        log.info("diagnostics received" if stored else "unasked diagnostics ignored", extra=fields)
        return stored

    async def get(
        self, who: Requester, diagnostics_id: str, with_bundle: bool = False
    ) -> Outcome | None:
        """A request of the caller's scope (a branch caller: its branch's), or None."""
        async with self._db.session() as s:
            row = await diagnostics.get(s, who.company_id, diagnostics_id, with_bundle)
        if row is None or (who.branch_id is not None and row.branch_id != who.branch_id):
            return None
        return outcome(row)

    async def of_agent(self, who: Requester, agent_id: str) -> list[Outcome]:
        """The agent's recent requests (DiagnosticsRefused for an agent out of scope)."""
        await self._agent(who, agent_id)
        async with self._db.session() as s:
            rows = await diagnostics.list_for_agent(s, who.company_id, agent_id)
        now = utcnow()
        return [outcome(row, now) for row in rows]
