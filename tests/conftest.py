"""Fixtures shared by every test: a real hub on an ephemeral loopback port, tokens, clients."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.cupsd import CupsDaemon
from tests.cupsd import missing as cups_missing
from tests.support import HubHarness

# The suite runs on 2 shared cores beside hubs, agents and browsers of other tests: a first
# input that takes a second to draw there is load, not a slow strategy. Inputs and their
# number stay Hypothesis' defaults; only the wall-clock checks are off.
settings.register_profile(
    "chit", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("chit")


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubHarness]:
    """A running hub with a known secret and its own data directory."""
    harness = await HubHarness.start(tmp_path / "hub-data")
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture(autouse=True)
def _agent_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Agents started by tests keep their config, spool and logs in the test's tmp dir."""
    monkeypatch.setenv("CHIT_AGENT_CONFIG_DIR", str(tmp_path / "agent-config"))
    monkeypatch.setenv("CHIT_AGENT_DATA_DIR", str(tmp_path / "agent-data"))
    monkeypatch.setenv("CHIT_AGENT_LOG_DIR", str(tmp_path / "agent-logs"))
    # Never the system service's /run/chit-agent/control.sock: a short path of the test's own
    # (a Unix socket path is at most 107 bytes, and tmp_path can be longer).
    control = Path(tempfile.mkdtemp(prefix="chit-ctl-", dir="/tmp" if os.name == "posix" else None))
    monkeypatch.setenv("CHIT_AGENT_CONTROL_SOCKET", str(control / "control.sock"))
    yield
    shutil.rmtree(control, ignore_errors=True)


@pytest.fixture
async def cupsd() -> AsyncIterator[CupsDaemon]:
    """A real cupsd of the test's own on a loopback port (skips when CUPS is not installed)."""
    if (reason := cups_missing()) is not None:
        pytest.skip(reason)
    daemon = await CupsDaemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()
