"""Fixtures shared by every test: a real hub on an ephemeral loopback port, tokens, clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import HubHarness


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubHarness]:
    """A running hub with a known secret and its own data directory."""
    harness = await HubHarness.start(tmp_path / "hub-data")
    try:
        yield harness
    finally:
        await harness.stop()
