"""Agent updates across instances: a promotion taken by one instance reaches agents on another.

Two hub processes over a real Redis and one database, sharing a data dir (so one TUF
repository), as docs/operations.md "Agent updates" asks of a cluster.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.tokens import Role
from tests.cluster.support import Cluster, harness_for
from tests.pg import POSTGRES_URL, fresh_database
from tests.updates_support import make_build, make_repository, release

NS = "/printing-ws"


@pytest.fixture
async def database_url() -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database for the test (None: the instances share SQLite)."""
    if POSTGRES_URL is None:
        yield None
        return
    async with fresh_database("chit_updates") as url:
        yield url


@pytest.fixture
async def pair(redis_url: str, tmp_path: Path, database_url: str | None) -> AsyncIterator[Cluster]:
    hubs = Cluster(redis_url, tmp_path, 2, database_url=database_url)
    try:
        await hubs.start()
        yield hubs
    finally:
        hubs.stop()


async def test_a_promotion_on_one_instance_reaches_an_agent_on_the_other(
    pair: Cluster, tmp_path: Path
) -> None:
    one, two = pair.hubs
    keys = tmp_path / "keys"
    repo = make_repository(tmp_path / "data", keys)
    release(repo, keys, make_build(tmp_path / "dist", "1.1.0"), "linux-x86_64", "1.1.0")
    agent = await harness_for(two).connect(
        pair.token(Role.DESKTOP_APP, "acme", "b1", sub="till-9"), [NS]
    )
    hello = {"agentId": "till-9", "hostname": "till-9", "os": "linux", "version": "1.0.0"}
    assert (await agent.call(NS, "agent:hello", hello))["ok"]
    status, body = await pair.request(
        one,
        "PUT",
        "/api/v1/agent-releases/rings/stable",
        pair.token(Role.OPERATOR, None),
        {"version": "1.1.0"},
    )
    assert status == 200, body
    [offer] = await agent.wait_for(NS, "agent:update", timeout=10)
    assert offer == {"ring": "stable", "version": "1.1.0"}
    # The other instance answers the agent's own check the same way (one database).
    check = {"agentId": "till-9", "version": "1.0.0"}
    assert (await agent.call(NS, "agent:update:check", check))["version"] == "1.1.0"
    status, body = await pair.request(
        two, "GET", "/api/v1/agent-releases", pair.token(Role.OPERATOR, None)
    )
    assert status == 200 and [b["version"] for b in body["builds"]] == ["1.1.0"]
