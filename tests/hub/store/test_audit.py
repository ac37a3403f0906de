"""The audit log: append, read back per company, newest first."""

from __future__ import annotations

from datetime import timedelta

from hub.store import Database
from hub.store.audit import list_audit, record
from tests.hub.store.conftest import T0


async def test_record_and_list(db: Database) -> None:
    async with db.session() as s:
        await record(s, "acme", "alice", "agent.revoke", "agent-1", {"reason": "stolen"}, T0)
        await record(s, "acme", "bob", "printer.test", "usb:1", now=T0 + timedelta(seconds=1))
        await record(s, "globex", "eve", "user.create", "mallory")
        await record(s, None, "system", "hub.start")
    async with db.session() as s:
        entries = await list_audit(s, "acme")
        assert len(await list_audit(s, "acme", limit=1)) == 1
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("bob", "printer.test", "usb:1"),
        ("alice", "agent.revoke", "agent-1"),
    ]
    assert entries[1].detail == {"reason": "stolen"} and entries[1].at == T0
