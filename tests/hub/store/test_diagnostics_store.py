"""Diagnostics rows: scoped by company, answered once by their own agent, gone after expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.store import Database, diagnostics, enrollment
from hub.store.errors import EnrollmentError
from tests.hub.store.conftest import T0, Tenants


async def test_a_request_is_answered_once_by_its_own_agent(db: Database, tenants: Tenants) -> None:
    t = tenants
    async with db.session() as s:
        row = await diagnostics.create(s, t.company, t.agent, t.branch, "mia", timedelta(hours=1))
    bundle = {"agentId": t.agent}
    async with db.session() as s:
        # Another company's agent, or another agent, cannot fill it in.
        assert not await diagnostics.complete(
            s, t.other_company, t.other_agent, row.id, bundle=bundle, size_bytes=10, error=None
        )
        assert not await diagnostics.complete(
            s, t.company, "agent-2", row.id, bundle=bundle, size_bytes=10, error=None
        )
        assert await diagnostics.complete(
            s, t.company, t.agent, row.id, bundle=bundle, size_bytes=10, error=None
        )
        assert not await diagnostics.complete(
            s, t.company, t.agent, row.id, bundle={"agentId": "again"}, size_bytes=10, error=None
        )
    async with db.session() as s:
        found = await diagnostics.get(s, t.company, row.id, with_bundle=True)
        assert await diagnostics.get(s, t.other_company, row.id) is None
    assert found is not None and found.state == "ready" and found.bundle == bundle


async def test_expired_bundles_are_not_served_and_are_purged(
    db: Database, tenants: Tenants
) -> None:
    t = tenants
    async with db.session() as s:
        old = await diagnostics.create(
            s, t.company, t.agent, t.branch, "mia", timedelta(hours=1), now=T0
        )
        fresh = await diagnostics.create(s, t.company, t.agent, t.branch, "mia", timedelta(hours=1))
    async with db.session() as s:
        assert await diagnostics.get(s, t.company, old.id) is None
        assert [r.id for r in await diagnostics.list_for_agent(s, t.company, t.agent)] == [fresh.id]
        assert await diagnostics.purge_expired(s) == 1
    async with db.session() as s:
        assert await diagnostics.get(s, t.company, fresh.id) is not None


async def test_enrolment_refusals_say_why_inside_the_store(db: Database, tenants: Tenants) -> None:
    t = tenants
    async with db.session() as s:
        code, row = await enrollment.create_code(
            s, t.company, t.branch, "mia", 1, timedelta(hours=1)
        )
    async with db.session() as s:
        assert (await enrollment.redeem_code(s, code.lower().replace("-", " "))).code_id == row.id
    reasons = []
    for attempt in (code, "2222-3333-4444-5555", "short"):
        with pytest.raises(EnrollmentError) as caught:
            async with db.session() as s:
                await enrollment.redeem_code(s, attempt)
        reasons.append(caught.value.code)
    assert reasons == [
        "enrollment_code_used_up",
        "enrollment_code_invalid",
        "enrollment_code_invalid",
    ]
    async with db.session() as s:
        assert await enrollment.revoke_code(s, t.other_company, row.id) is None
        revoked = await enrollment.revoke_code(s, t.company, row.id)
    assert revoked is not None and revoked.state(revoked.created_at) == "revoked"
