"""Cluster fixtures: a real Redis (CHIT_TEST_REDIS_URL, or a redis-server started here) and hubs.

Without CHIT_TEST_REDIS_URL the tests never touch the machine's Redis (CI keeps its own
database there): they start a redis-server of their own on a free loopback port for the
session, and skip when none is installed. ``.ci/run`` sets the variable to a database of its
own; a URL given but not answering is an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import pytest

from tests.cluster.support import Cluster, OwnRedis, redis_reachable

ENV = "CHIT_TEST_REDIS_URL"


def configured_redis(environ: Mapping[str, str]) -> str | None:
    """The Redis the tests were told to use, or None: start one of our own."""
    return environ.get(ENV, "").strip() or None


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """CHIT_TEST_REDIS_URL, or a redis-server started for the session."""
    url = configured_redis(os.environ)
    if url is not None:
        if not redis_reachable(url):
            pytest.fail(f"{ENV}={url} does not answer PING; start that Redis or unset {ENV}")
        yield url
        return
    if shutil.which("redis-server") is None:
        pytest.skip(f"no redis-server installed (apt install redis-server) and no {ENV} given")
    own = OwnRedis()
    own.start()
    try:
        yield own.url
    finally:
        own.stop()


@pytest.fixture
async def cluster(redis_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Three hub instances over Redis, sharing one database."""
    hubs = Cluster(redis_url, tmp_path, 3)
    try:
        await hubs.start()
        yield hubs
    finally:
        hubs.stop()


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    """A Redis this test may stop and restart."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
