"""Tenancy across instances: two hub processes on a real Redis and one database.

Seen from outside with two instances: company A's service token published into company B's
branch through instance 1 and B's staff on instance 2 received it (202); an A token naming B's
branch connected to instance 1 and received B's orders. Branch ownership lived in each process's
memory. Here it comes from the ``branches`` table, on PostgreSQL when CHIT_TEST_DATABASE_URL
is set (as in CI), each test in a database of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared.tokens import Role
from tests.cluster.support import Cluster, harness_for
from tests.hub.test_tenancy import ORDER, _refusal
from tests.pg import POSTGRES_URL, fresh_database
from tests.support import settle


@pytest.fixture
async def database_url() -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database for the test (None: the instances share SQLite)."""
    if POSTGRES_URL is None:
        yield None
        return
    async with fresh_database("chit_tenancy") as url:
        yield url


@pytest.fixture
async def pair(redis_url: str, tmp_path: Path, database_url: str | None) -> AsyncIterator[Cluster]:
    """Two instances over Redis sharing one database."""
    hubs = Cluster(redis_url, tmp_path, 2, database_url=database_url)
    try:
        await hubs.start()
        yield hubs
    finally:
        hubs.stop()


def _envelope(company: str, branch: str) -> dict[str, Any]:
    return {
        "namespace": "/orders",
        "event": "newOrder",
        "companyId": company,
        "branchId": branch,
        "payload": ORDER,
    }


async def test_no_cross_tenant_publish_or_read_across_instances(pair: Cluster) -> None:
    one, two = pair.hubs
    platform = pair.token(Role.SERVICE, None)
    # B's branch is provisioned through instance 2 by the platform.
    status, _ = await pair.request(
        two, "POST", "/api/v1/branches", platform, {"branchId": "b-of-b", "companyId": "bee"}
    )
    assert status == 201
    victim = await harness_for(two).connect(pair.token(Role.STAFF, "bee", "b-of-b"), ["/orders"])

    # A's service token publishes into B's branch through instance 1: refused, nothing arrives.
    attacker = pair.token(Role.SERVICE, "ay")
    status, body = await pair.request(
        one, "POST", "/api/v1/events", attacker, _envelope("ay", "b-of-b")
    )
    assert (status, body["code"]) == (404, "unknown_branch")
    # An A token naming B's branch cannot connect to instance 1 (which never saw the branch).
    forged = pair.token_unprovisioned(Role.STAFF, "ay", "b-of-b")
    assert (await _refusal(one.url, forged))["code"] == "unknown_branch"

    # B itself, through instance 1, reaches its staff on instance 2.
    own = pair.token(Role.SERVICE, "bee")
    status, _ = await pair.request(one, "POST", "/api/v1/events", own, _envelope("bee", "b-of-b"))
    assert status == 202
    await victim.wait_for("/orders", "newOrder")
    await settle(0.3)
    assert len(victim.events("/orders", "newOrder")) == 1
    await victim.close()


async def test_a_restarted_instance_still_knows_whose_branch_it_is(pair: Cluster) -> None:
    one, two = pair.hubs
    platform = pair.token(Role.SERVICE, None)
    status, _ = await pair.request(
        one, "POST", "/api/v1/branches", platform, {"branchId": "b-two", "companyId": "bee"}
    )
    assert status == 201
    one.kill()
    await pair.start(one)
    # The first token naming the branch after the restart is A's: refused on both instances.
    forged = pair.token_unprovisioned(Role.STAFF, "ay", "b-two")
    for hub in (one, two):
        assert (await _refusal(hub.url, forged))["code"] == "unknown_branch"
    staff = await harness_for(one).connect(pair.token(Role.STAFF, "bee", "b-two"), ["/orders"])
    status, _ = await pair.request(
        two, "POST", "/api/v1/events", pair.token(Role.SERVICE, "bee"), _envelope("bee", "b-two")
    )
    assert status == 202
    await staff.wait_for("/orders", "newOrder")
    await staff.close()
