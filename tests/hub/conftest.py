"""Hub fixtures: ``any_hub`` runs a test once per database backend (see tests/hub/backends.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.hub.backends import BACKENDS, hub_on
from tests.support import HubHarness


@pytest.fixture(params=BACKENDS)
async def any_hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HubHarness]:
    """A running hub on SQLite, and again on PostgreSQL when one is configured."""
    async with hub_on(request.param, tmp_path / "hub-data") as harness:
        yield harness
