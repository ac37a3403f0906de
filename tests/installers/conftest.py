"""The frozen agent, built once per test session with the project's own build script.

``scripts/build-agent.sh`` (PyInstaller) freezes the agent into a folder of the session's
temporary directory; every test of the frozen agent and of its packages uses that one build
(about a minute on two cores). ``CHIT_TEST_FROZEN_DIST=DIR`` reuses a build made before with
``scripts/build-agent.sh --dist DIR`` instead (when working on the packages). Linux only: the
Windows and macOS builds run in their CI workflows (.github/workflows/agent-windows.yml,
agent-macos.yml).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def frozen_agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The frozen agent's folder (its ``chit-agent`` executable inside)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the frozen Linux build is tested on Linux")
    if reuse := os.environ.get("CHIT_TEST_FROZEN_DIST"):
        return Path(reuse) / "chit-agent"
    dist = tmp_path_factory.mktemp("frozen")
    started = time.monotonic()
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-agent.sh"), "--dist", str(dist)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    print(f"\nfrozen agent built in {time.monotonic() - started:.0f} s: {done.stdout.strip()}")
    return dist / "chit-agent"


def agent_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment with the agent's folders under ``home`` and no desktop."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHIT_AGENT_", "PYTHON", "QT_"))
        and k not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(
        CHIT_AGENT_CONFIG_DIR=str(home / "config"),
        CHIT_AGENT_DATA_DIR=str(home / "data"),
        CHIT_AGENT_LOG_DIR=str(home / "logs"),
        # A control socket of its own (tests/conftest.py's, suffixed), never the machine's
        # /run/chit-agent/control.sock where other tests' CLIs would find this agent.
        CHIT_AGENT_CONTROL_SOCKET=f"{os.environ['CHIT_AGENT_CONTROL_SOCKET']}.{home.name}",
    )
    return {**env, **(extra or {})}
