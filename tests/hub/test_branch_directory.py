"""The branch directory: a read-through cache that a crowd of connects cannot stampede."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.services.tenancy import BranchDirectory, UnknownBranch
from hub.store import Database
from hub.store.tenants import ensure_branch


async def test_a_crowd_asking_for_cold_branches_costs_one_query(tmp_path: Path) -> None:
    db = await Database.connect(None, tmp_path)
    try:
        async with db.session() as s:
            await ensure_branch(s, "b1", "acme")
            await ensure_branch(s, "g1", "globex")
        directory = BranchDirectory(db)
        sessions = 0
        real_session = db.session

        def counting_session():  # type: ignore[no-untyped-def]
            nonlocal sessions
            sessions += 1
            return real_session()

        db.session = counting_session  # type: ignore[method-assign]
        asked = ["b1", "g1", "nope"] * 300
        owners = await asyncio.gather(*(directory.company_of(b) for b in asked))
        assert sessions == 1
        assert owners == ["acme", "globex", None] * 300
        await directory.check("acme", "b1")  # cached now: no query
        assert sessions == 1
        for company, branch in (("acme", "g1"), ("globex", "b1"), ("acme", "nope")):
            with pytest.raises(UnknownBranch) as refused:
                await directory.check(company, branch)
            assert refused.value.branch_id == branch
        assert sessions == 2  # the unknown branch is asked again: never cached as absent
    finally:
        await db.close()
