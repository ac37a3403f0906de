"""scripts/installer_smoke.py, the Windows and macOS workflows' driver, run here end to end:
``serve`` (hub + simulated printer), an agent paired with its code and run headless, then
``check`` (online with the printer, a test page printed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent import __version__

ROOT = Path(__file__).resolve().parents[2]
SMOKE = str(ROOT / "scripts" / "installer_smoke.py")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIT_AGENT_")}
    env.pop("DISPLAY", None)
    env.update(
        PYTHONPATH=str(ROOT),
        CHIT_AGENT_CONFIG_DIR=str(tmp_path / "config"),
        CHIT_AGENT_DATA_DIR=str(tmp_path / "data"),
        CHIT_AGENT_LOG_DIR=str(tmp_path / "logs"),
        CHIT_AGENT_MDNS="false",
        CHIT_AGENT_USB="false",
        CHIT_AGENT_QUEUES="false",
        # Never the machine's /run/chit-agent/control.sock (other tests' CLIs would find it).
        CHIT_AGENT_CONTROL_SOCKET=os.environ["CHIT_AGENT_CONTROL_SOCKET"],
    )
    return env


def _run(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=_env(tmp_path), capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _serve(tmp_path: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    state = tmp_path / "smoke.json"
    proc = subprocess.Popen(
        [sys.executable, SMOKE, "serve", "--state", str(state), "--seconds", "120"],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not state.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
        time.sleep(0.1)
    time.sleep(0.2)
    return proc, json.loads(state.read_text())


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return out


@pytest.mark.timeout(180)
def test_serve_then_an_agent_then_check(tmp_path: Path) -> None:
    hub, info = _serve(tmp_path)
    try:
        paired = _run(
            tmp_path, "-m", "agent.cli", "pair", info["pairingCode"], "--hub", info["hubUrl"]
        )
        assert paired.returncode == 0, paired.stderr
        assert (
            _run(tmp_path, "-m", "agent.cli", "config", "--add-printer", info["printer"]).returncode
            == 0
        )
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "run", "--headless"], env=_env(tmp_path),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            state = str(tmp_path / "smoke.json")
            done = _run(tmp_path, SMOKE, "check", "--state", state, "--version", __version__)
            assert done.returncode == 0, done.stderr
            assert "printed a test page" in done.stdout
            wrong = _run(tmp_path, SMOKE, "check", "--state", state, "--version", "9.9.9")
            assert wrong.returncode == 1 and "not 9.9.9" in wrong.stderr
        finally:
            agent.terminate()
            agent.wait(20)
    finally:
        out = _stop(hub)
    assert "the printer got 1 page(s)" in out


@pytest.mark.timeout(60)
def test_check_fails_in_words_when_no_agent_comes(tmp_path: Path) -> None:
    hub, _ = _serve(tmp_path)
    try:
        state = str(tmp_path / "smoke.json")
        done = _run(tmp_path, SMOKE, "check", "--state", state, "--timeout", "2")
        assert done.returncode == 1 and "no agent online" in done.stderr
    finally:
        _stop(hub)
