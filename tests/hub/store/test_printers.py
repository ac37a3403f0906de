"""Printers: full inventories, removal, status with history, tenancy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hub.store import Database, NotFound, TenantConflict
from hub.store.agents import upsert_agent
from hub.store.printers import (
    get_printer,
    list_printers,
    mark_removed,
    prune_status_history,
    set_settings,
    set_status,
    settings_of_agents,
    status_history,
    upsert_printer,
    upsert_printers,
)
from shared.printers import PrinterState, PrinterStatus
from tests.hub.store.conftest import T0, Tenants


def info(printer_id: str, name: str = "Kitchen", **extra: Any) -> dict[str, Any]:
    """A PrinterInfo wire dict."""
    return {
        "printerId": printer_id,
        "name": name,
        "connection": "network",
        "source": "sweep",
        "host": "10.0.0.5",
        "port": 9100,
        **extra,
    }


async def test_inventory_replaces_and_marks_missing_printers_removed(
    db: Database, tenants: Tenants
) -> None:
    a, b = "net:10.0.0.5:9100", "usb:04b8:0e15:SN1"
    async with db.session() as s:
        rows = await upsert_printers(
            s, tenants.agent, tenants.company, tenants.branch, [info(a), info(b, "Bar")], T0
        )
    assert [r.printer_id for r in rows] == [a, b]
    assert rows[0].info == info(a) and rows[0].connection == "network"
    later = T0 + timedelta(minutes=1)
    async with db.session() as s:
        await upsert_printers(s, tenants.agent, tenants.company, tenants.branch, [info(b)], later)
    async with db.session() as s:
        assert [p.printer_id for p in await list_printers(s, tenants.company)] == [b]
        every = await list_printers(s, tenants.company, include_removed=True)
    assert {p.printer_id: p.removed_at for p in every} == {a: later, b: None}
    async with db.session() as s:  # found again: no longer removed
        await upsert_printer(s, tenants.agent, tenants.company, tenants.branch, info(a), later)
        assert len(await list_printers(s, tenants.company)) == 2
        assert len(await list_printers(s, tenants.company, tenants.branch)) == 2
        assert await list_printers(s, tenants.company, "b-other") == []


async def test_inventory_is_checked_against_the_tenant(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        with pytest.raises(NotFound):
            await upsert_printers(s, tenants.other_agent, tenants.company, tenants.branch, [])
        with pytest.raises(TenantConflict):
            await upsert_printers(s, tenants.agent, tenants.company, tenants.other_branch, [])
        with pytest.raises(ValueError, match="printerId"):
            await upsert_printer(s, tenants.agent, tenants.company, tenants.branch, {"name": "x"})


async def test_printers_of_another_company_are_invisible(db: Database, tenants: Tenants) -> None:
    pid = "net:10.0.0.5:9100"
    async with db.session() as s:
        await upsert_printer(s, tenants.other_agent, tenants.other_company, "g1", info(pid))
    async with db.session() as s:
        assert await get_printer(s, tenants.company, pid) is None
        assert await list_printers(s, tenants.company) == []
        assert not await set_status(s, tenants.company, tenants.other_agent, pid, _status())
        assert not await mark_removed(s, tenants.company, tenants.other_agent, pid)
        assert await status_history(s, tenants.company, pid) == []
        assert await get_printer(s, tenants.other_company, pid) is not None


def _status(state: PrinterState = PrinterState.ONLINE, **flags: bool) -> PrinterStatus:
    return PrinterStatus(state=state, online=state != PrinterState.OFFLINE, **flags)


async def test_status_is_kept_with_its_history(db: Database, tenants: Tenants) -> None:
    pid, agent = "usb:04b8:0e15:SN1", tenants.agent
    async with db.session() as s:
        await upsert_printer(s, agent, tenants.company, tenants.branch, info(pid), T0)
        await set_status(s, tenants.company, agent, pid, _status(), T0)
        paper_out = _status(PrinterState.PAPER_OUT, paper_out=True)
        await set_status(s, tenants.company, agent, pid, paper_out.to_wire(), T0 + timedelta(1))
    async with db.session() as s:
        printer = await get_printer(s, tenants.company, pid)
        history = await status_history(s, tenants.company, pid)
        assert len(await status_history(s, tenants.company, pid, limit=1)) == 1
    assert printer is not None and printer.last_state == "paper_out"
    assert printer.last_status == paper_out.to_wire() and printer.last_seen == T0 + timedelta(1)
    assert [(h.state, h.at) for h in history] == [("paper_out", T0 + timedelta(1)), ("online", T0)]
    assert history[0].status["paperOut"] is True


async def test_inventory_status_goes_to_history_when_it_changes(
    db: Database, tenants: Tenants
) -> None:
    pid = "net:10.0.0.7:9100"
    reported = info(pid, status=_status().to_wire())
    async with db.session() as s:
        for _ in range(2):  # the same status twice is one history entry
            await upsert_printer(s, tenants.agent, tenants.company, tenants.branch, reported)
        assert [h.state for h in await status_history(s, tenants.company, pid)] == ["online"]


async def test_mark_removed(db: Database, tenants: Tenants) -> None:
    pid = "net:10.0.0.5:9100"
    async with db.session() as s:
        await upsert_printer(s, tenants.agent, tenants.company, tenants.branch, info(pid))
        assert await mark_removed(s, tenants.company, tenants.agent, pid, T0)
        assert not await mark_removed(s, tenants.company, tenants.agent, pid)  # already
        assert await list_printers(s, tenants.company) == []


async def test_get_printer_prefers_the_present_most_recent_agent(
    db: Database, tenants: Tenants
) -> None:
    pid = "net:10.0.0.5:9100"
    async with db.session() as s:
        await upsert_agent(s, "agent-2", tenants.company, tenants.branch, "cred-2")
        await upsert_printer(s, tenants.agent, tenants.company, tenants.branch, info(pid), T0)
        later = T0 + timedelta(hours=1)
        await upsert_printer(s, "agent-2", tenants.company, tenants.branch, info(pid), later)
        found = await get_printer(s, tenants.company, pid)
        assert found is not None and found.agent_id == "agent-2"
        await mark_removed(s, tenants.company, "agent-2", pid)
        found = await get_printer(s, tenants.company, pid)
        assert found is not None and found.agent_id == tenants.agent
        pinned = await get_printer(s, tenants.company, pid, agent_id="agent-2")
        assert pinned is not None and pinned.removed_at is not None


async def test_old_history_can_be_pruned(db: Database, tenants: Tenants) -> None:
    pid = "usb:04b8:0e15:SN1"
    async with db.session() as s:
        await upsert_printer(s, tenants.agent, tenants.company, tenants.branch, info(pid), T0)
        for hours in range(3):
            at = T0 + timedelta(hours=hours)
            await set_status(s, tenants.company, tenants.agent, pid, _status(), at)
        assert await prune_status_history(s, T0 + timedelta(hours=1)) == 1
        assert [h.at for h in await status_history(s, tenants.company, pid)] == [
            T0 + timedelta(hours=2),
            T0 + timedelta(hours=1),
        ]


async def test_settings_of_many_agents_come_in_one_query_each_agent_its_own(
    db: Database, tenants: Tenants
) -> None:
    a, b = "net:10.0.0.5:9100", "usb:04b8:0e15:SN1"
    async with db.session() as s:
        await upsert_printers(
            s, tenants.agent, tenants.company, tenants.branch, [info(a), info(b)], T0
        )
        await upsert_printer(
            s, tenants.other_agent, tenants.other_company, tenants.other_branch, info(a), T0
        )
        await set_settings(s, tenants.company, tenants.agent, a, {"name": "Grill"})
        await set_settings(s, tenants.other_company, tenants.other_agent, a, {"name": "Theirs"})
        assert await set_settings(s, tenants.company, tenants.other_agent, a, {"x": 1}) is None
    async with db.session() as s:
        found = await settings_of_agents(s, [tenants.agent, tenants.other_agent, "agent-none"])
    assert found == {
        tenants.agent: {a: {"name": "Grill"}},
        tenants.other_agent: {a: {"name": "Theirs"}},
    }
