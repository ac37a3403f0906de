"""Cluster fixtures: a real Redis (the CI one, or one started here) and hub processes."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.cluster.support import Cluster, OwnRedis, redis_reachable

DEFAULT_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """CHIT_TEST_REDIS_URL, the local Redis, or a redis-server started for the session."""
    url = os.environ.get("CHIT_TEST_REDIS_URL", DEFAULT_URL)
    if redis_reachable(url):
        yield url
        return
    if shutil.which("redis-server") is None:
        pytest.skip("no Redis reachable and no redis-server to start one")
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
