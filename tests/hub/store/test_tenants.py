"""Companies and branches: created on first sight, a branch bound to one company forever."""

from __future__ import annotations

import pytest

from hub.store import Database, NotFound, TenantConflict
from hub.store.tenants import (
    branch_company,
    check_branch,
    ensure_branch,
    ensure_company,
    get_branch,
    list_branches,
)


async def test_ensure_company_is_idempotent_and_keeps_the_first_name(db: Database) -> None:
    async with db.session() as s:
        first = await ensure_company(s, "acme", "Acme Foods")
        again = await ensure_company(s, "acme", "Renamed")
    assert first == again
    assert again.name == "Acme Foods"


async def test_ensure_branch_creates_its_company(db: Database) -> None:
    async with db.session() as s:
        branch = await ensure_branch(s, "b1", "acme", "Main street")
        assert await ensure_branch(s, "b1", "acme") == branch
    async with db.session() as s:
        assert await get_branch(s, "b1") == branch
        assert await branch_company(s, "b1") == "acme"
        assert await branch_company(s, "nope") is None
        assert await get_branch(s, "nope") is None


async def test_a_branch_of_another_company_is_refused(db: Database) -> None:
    async with db.session() as s:
        await ensure_branch(s, "b1", "acme")
    with pytest.raises(TenantConflict) as caught:
        async with db.session() as s:
            await ensure_branch(s, "b1", "globex")
    assert caught.value.code == "tenant_conflict"
    async with db.session() as s:
        assert await branch_company(s, "b1") == "acme"
        with pytest.raises(TenantConflict):
            await check_branch(s, "globex", "b1")
        with pytest.raises(NotFound):
            await check_branch(s, "acme", "b404")


async def test_list_branches_is_per_company(db: Database) -> None:
    async with db.session() as s:
        for branch_id, company_id in [("b2", "acme"), ("b1", "acme"), ("g1", "globex")]:
            await ensure_branch(s, branch_id, company_id)
    async with db.session() as s:
        assert [b.id for b in await list_branches(s, "acme")] == ["b1", "b2"]
        assert [b.id for b in await list_branches(s, "globex")] == ["g1"]
        assert await list_branches(s, "nobody") == []
