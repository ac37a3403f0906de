"""Bulk agent writes (reconnect storms) keep the per-agent rules, in a few statements."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from hub.store import Database, NotFound, TenantConflict
from hub.store.agent_bulk import Inventory, NewAgent, create_agents, store_inventories
from hub.store.agents import get_agent, revoke
from hub.store.printers import list_printers, status_history
from shared.printers import Connection, DiscoverySource, PrinterInfo, PrinterState, PrinterStatus
from tests.hub.store.conftest import T0, Tenants


def printer(
    printer_id: str, state: PrinterState | None = None, name: str = "Kitchen"
) -> PrinterInfo:
    status = PrinterStatus(state=state, checked_at=T0) if state is not None else None
    return PrinterInfo(
        printer_id=printer_id,
        name=name,
        connection=Connection.NETWORK,
        source=DiscoverySource.MANUAL,
        host="10.0.0.5",
        port=9100,
        status=status,
    )


async def test_a_batch_of_new_agents_is_created_and_foreign_ones_fail_alone(
    db: Database, tenants: Tenants
) -> None:
    new = {
        f"storm-{i}": NewAgent(tenants.company, tenants.branch, f"token:storm-{i}", T0)
        for i in range(50)
    }
    new["sneaky"] = NewAgent(tenants.company, tenants.other_branch, "token:sneaky", T0)
    new[tenants.other_agent] = NewAgent(tenants.company, tenants.branch, "token:x", T0)
    new["nowhere"] = NewAgent(tenants.company, "no-such-branch", "token:n", T0)
    async with db.session() as s:
        failed = await create_agents(s, new)
    assert isinstance(failed["sneaky"], TenantConflict)
    assert isinstance(failed[tenants.other_agent], TenantConflict)
    assert isinstance(failed["nowhere"], NotFound)
    assert len(failed) == 3
    async with db.session() as s:
        row = await get_agent(s, tenants.company, "storm-7")
        assert row is not None and row.branch_id == tenants.branch
        assert await get_agent(s, tenants.company, "sneaky") is None
        assert await get_agent(s, tenants.company, tenants.other_agent) is None


async def test_creating_an_agent_that_exists_never_lifts_its_revocation(
    db: Database, tenants: Tenants
) -> None:
    async with db.session() as s:
        await revoke(s, tenants.company, tenants.agent)
    async with db.session() as s:
        failed = await create_agents(
            s, {tenants.agent: NewAgent(tenants.company, tenants.branch, "token:again", T0)}
        )
    assert failed == {}
    async with db.session() as s:
        row = await get_agent(s, tenants.company, tenants.agent)
    assert row is not None and row.revoked and row.credential_id == "cred-1"


async def test_inventories_upsert_mark_missing_removed_and_record_changed_status(
    db: Database, tenants: Tenants
) -> None:
    a, b = "net:10.0.0.5:9100", "net:10.0.0.6:9100"
    first = Inventory(
        tenants.company, tenants.branch, [printer(a, PrinterState.ONLINE), printer(b)], T0
    )
    async with db.session() as s:
        assert await store_inventories(s, {tenants.agent: first}) == {}
    later = T0 + timedelta(minutes=1)
    again = Inventory(
        tenants.company, tenants.branch, [printer(a, PrinterState.ONLINE, name="Bar")], later
    )
    async with db.session() as s:
        assert await store_inventories(s, {tenants.agent: again}) == {}
    async with db.session() as s:
        every = {
            p.printer_id: p for p in await list_printers(s, tenants.company, include_removed=True)
        }
        history = await status_history(s, tenants.company, a)
    assert every[a].name == "Bar" and every[a].removed_at is None
    assert every[b].removed_at == later
    assert len(history) == 1  # the same status twice is one entry
    paper_out = Inventory(
        tenants.company, tenants.branch, [printer(a, PrinterState.PAPER_OUT), printer(b)], later
    )
    async with db.session() as s:
        await store_inventories(s, {tenants.agent: paper_out})
    async with db.session() as s:
        every = {
            p.printer_id: p for p in await list_printers(s, tenants.company, include_removed=True)
        }
        assert len(await status_history(s, tenants.company, a)) == 2
    assert every[b].removed_at is None  # found again
    assert every[a].last_state == PrinterState.PAPER_OUT.value


async def test_an_inventory_for_another_companys_agent_or_branch_fails_alone(
    db: Database, tenants: Tenants
) -> None:
    good = Inventory(tenants.company, tenants.branch, [printer("net:1")], T0)
    foreign_agent = Inventory(tenants.company, tenants.branch, [printer("net:2")], T0)
    foreign_branch = Inventory(tenants.company, tenants.other_branch, [printer("net:3")], T0)
    async with db.session() as s:
        failed = await store_inventories(
            s, {tenants.agent: good, tenants.other_agent: foreign_agent, "agent-x": foreign_branch}
        )
    assert set(failed) == {tenants.other_agent, "agent-x"}
    async with db.session() as s:
        assert [p.printer_id for p in await list_printers(s, tenants.company)] == ["net:1"]
        assert await list_printers(s, tenants.other_company) == []


async def test_a_batch_of_many_inventories_costs_a_fixed_number_of_statements(
    db: Database, tenants: Tenants
) -> None:
    new = {
        f"storm-{i}": NewAgent(tenants.company, tenants.branch, f"token:{i}", T0)
        for i in range(200)
    }
    inventories = {
        agent_id: Inventory(tenants.company, tenants.branch, [printer(f"net:{agent_id}")], T0)
        for agent_id in new
    }
    statements: list[str] = []

    def count(*_args: object) -> None:
        statements.append("x")

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.session() as s:
            assert await create_agents(s, new) == {}
            assert await store_inventories(s, inventories) == {}
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) <= 10, statements
    async with db.session() as s:
        assert len(await list_printers(s, tenants.company)) == 200
