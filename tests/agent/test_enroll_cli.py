"""Enrolment from a terminal (`chit-agent enroll`) and by the service itself from a preseed file."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent import cli, enrollment
from agent import settings as store
from shared.tokens import TokenKeys, verify
from tests.e2e.support import eventually, fast_settings, hub_agent
from tests.support import SECRET, HubHarness, free_port


@pytest.fixture(autouse=True)
def _no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHIT_AGENT_TOKEN", raising=False)
    monkeypatch.delenv(enrollment.PRESEED_ENV, raising=False)


async def _code(hub: HubHarness, uses: int = 2) -> str:
    body = {"branchId": "b1", "maxUses": uses, "expiresIn": 3600}
    status, answer = await hub.post("/api/v1/enrollment-codes", body, hub.token("manager", "acme"))
    assert status == 201, answer
    return str(answer["code"])


def _preseed(path: Path, hub: str, code: str) -> Path:
    path.write_text(f'# written by the installer\nhub = "{hub}"\ncode = "{code}"\n')
    return path


async def test_enroll_stores_the_token_and_hub(
    hub: HubHarness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await hub.provision("acme", "b1")
    store.save(fast_settings(agent_id="till-cli"))
    argv = ["enroll", "--hub", hub.url, "--code", await _code(hub)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    assert "enrolled agent till-cli" in capsys.readouterr().out
    token = store.read_token()
    assert token is not None and verify(token, TokenKeys(SECRET)).agent_id == "till-cli"
    assert (tmp_path / "agent-config" / store.TOKEN_FILE).stat().st_mode & 0o777 == 0o600
    assert store.load().hub_url == hub.url


async def test_enroll_with_a_used_up_code_says_so(
    hub: HubHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    await hub.provision("acme", "b1")
    code = await _code(hub, uses=1)
    assert await cli._enroll(fast_settings(agent_id="till-1"), hub.url, code) == 0
    assert await cli._enroll(fast_settings(agent_id="till-2"), hub.url, code) == 1
    err = capsys.readouterr().err
    assert "enrolment failed: this enrolment code cannot be used" in err
    assert "used up" in err


def test_preseed_paths_per_os() -> None:
    assert enrollment.default_preseed_path("linux") == Path("/etc/chit-agent/enroll.toml")
    windows = enrollment.default_preseed_path("win32", {"ProgramData": r"D:\PD"})
    assert windows == Path(r"D:\PD") / "Chit" / "enroll.toml"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('code = "X"\n', "needs hub"),
        ('hub = "ftp://x"\ncode = "X"\n', "needs hub"),
        ('hub = "https://hub.example"\n', "needs code"),
        ("hub = [\n", "cannot read it"),
    ],
)
def test_an_unusable_preseed_says_why(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "enroll.toml"
    path.write_text(text)
    with pytest.raises(enrollment.PreseedError, match=says):
        enrollment.read_preseed(path)


async def test_an_unreachable_hub_is_retried_and_a_stop_ends_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seed = enrollment.Preseed(f"http://127.0.0.1:{free_port()}", "2222-3333-4444-5555", tmp_path)
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="chit.agent.enrollment")
    task = asyncio.create_task(enrollment.enroll_from_preseed(fast_settings(), seed, stop, cap=0.2))
    await eventually(lambda: len(caplog.records) >= 2)  # it tried, waited, tried again
    stop.set()
    async with asyncio.timeout(10):
        settings = await task
    assert settings.hub_url is None and store.read_token() is None
    assert all(r.levelno == logging.WARNING for r in caplog.records)


@contextlib.asynccontextmanager
async def _service(
    home: Path, preseed: Path, read_log: bool = False
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`chit-agent run --headless --preseed PATH` as its own process, stopped with SIGTERM."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHIT_AGENT_")},
        "CHIT_AGENT_CONFIG_DIR": str(home / "config"),
        "CHIT_AGENT_DATA_DIR": str(home / "data"),
        "CHIT_AGENT_LOG_DIR": str(home / "logs"),
        "CHIT_AGENT_MDNS": "0",
        "CHIT_AGENT_USB": "0",
        "CHIT_AGENT_QUEUES": "0",
        "CHIT_AGENT_HEARTBEAT_INTERVAL": "1",
        # Its own control socket (short: AF_UNIX paths are ~100 bytes at most), never the
        # machine's /run/chit-agent/control.sock, where other tests' CLIs would find it.
        "CHIT_AGENT_CONTROL_SOCKET": f"{os.environ['CHIT_AGENT_CONTROL_SOCKET']}.{home.name}",
    }
    argv = [sys.executable, "-m", "agent.cli", "run", "--headless", "--preseed", str(preseed)]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE if read_log else asyncio.subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await proc.wait()


def _stored(home: Path) -> dict[str, Any]:
    settings = store.load_stored(home / "config")
    return {"agent_id": settings.agent_id, "hub_url": settings.hub_url}


async def test_tills_enrol_themselves_from_a_preseed_each_with_its_own_credential(
    hub: HubHarness, tmp_path: Path
) -> None:
    await hub.provision("acme", "b1")
    preseed = _preseed(tmp_path / "enroll.toml", hub.url, await _code(hub, uses=2))
    homes = [tmp_path / f"till-{n}" for n in range(3)]
    async with _service(homes[0], preseed), _service(homes[1], preseed):
        ids = await eventually(
            lambda: (
                [s["agent_id"] for s in map(_stored, homes[:2]) if s["hub_url"] == hub.url]
                if all((h / "config" / store.TOKEN_FILE).exists() for h in homes[:2])
                else None
            ),
            timeout=40,
        )
        for agent_id in ids:
            await eventually(lambda agent_id=agent_id: hub_agent(hub, agent_id), timeout=30)
    tokens = [store.read_token(h / "config", environ={}) for h in homes[:2]]
    claims = [verify(t or "", TokenKeys(SECRET)) for t in tokens]
    assert len({c.jti for c in claims}) == 2 and len({c.agent_id for c in claims}) == 2
    # A third till finds the code used up: it says so once and never gets a token.
    async with _service(homes[2], preseed, read_log=True) as third:
        assert third.stderr is not None
        line = await asyncio.wait_for(_line_with(third.stderr, b"enrolment refused"), 30)
    assert b"ask for a new enrolment code" in line
    assert not (homes[2] / "config" / store.TOKEN_FILE).exists()


async def test_an_enrolled_till_never_reads_the_preseed_again(
    hub: HubHarness, tmp_path: Path
) -> None:
    await hub.provision("acme", "b1")
    preseed = _preseed(tmp_path / "enroll.toml", hub.url, await _code(hub, uses=5))
    home = tmp_path / "till"
    async with _service(home, preseed):
        await eventually(lambda: (home / "config" / store.TOKEN_FILE).exists(), timeout=40)
        first = _stored(home)["agent_id"]
        await eventually(lambda: hub_agent(hub, first), timeout=30)
    status, _ = await hub.post(f"/api/v1/agents/{first}/revoke", {}, hub.token("manager", "acme"))
    assert status == 200
    async with _service(home, preseed, read_log=True) as again:
        assert again.stderr is not None
        await asyncio.wait_for(_line_with(again.stderr, b"hub refused the connection"), 30)
    # Revocation sticks: the restart did not re-enrol with the code still in the file.
    status, codes = await hub.get("/api/v1/enrollment-codes", hub.token("manager", "acme"))
    assert codes["enrollmentCodes"][0]["uses"] == 1


async def _line_with(stream: asyncio.StreamReader, needle: bytes) -> bytes:
    while True:
        line = await stream.readline()
        if not line:
            raise AssertionError(f"{needle!r} never logged")
        if needle in line:
            return line
