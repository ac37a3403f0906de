"""`chit-agent pair` against a running hub: the stored token lets the agent connect."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent import cli
from agent import settings as store
from tests.e2e.support import eventually, fast_settings, hub_agent, running_agent
from tests.support import HubHarness

CONFIG = "agent-config"


@pytest.fixture(autouse=True)
def _no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHIT_AGENT_TOKEN", raising=False)


async def _issue(hub: HubHarness) -> str:
    status, body = await hub.post(
        "/api/v1/pairing-codes", {"branchId": "b1"}, hub.token("manager", "acme")
    )
    assert status == 201, body
    return str(body["code"])


async def test_pair_stores_token_and_hub_then_the_agent_connects(
    hub: HubHarness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = fast_settings(agent_id="agent-paired")
    store.save(settings)
    argv = ["pair", await _issue(hub), "--hub", hub.url]
    assert await asyncio.to_thread(cli.main, argv) == 0
    assert "paired agent agent-paired" in capsys.readouterr().out
    token_file = tmp_path / CONFIG / store.TOKEN_FILE
    assert token_file.stat().st_mode & 0o777 == 0o600
    saved = store.load()
    assert saved.hub_url == hub.url and saved.agent_id == "agent-paired"
    async with running_agent(saved.with_changes(mdns=False, usb=False), store.read_token):
        record = await eventually(lambda: hub_agent(hub, "agent-paired"))
    assert record.branch_id == "b1"


async def test_pair_with_a_bad_code_prints_the_hubs_message(
    hub: HubHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli._pair(fast_settings(), "2222-2222", hub.url) == 1
    assert "the code is wrong, used or expired" in capsys.readouterr().err
    assert store.read_token() is None


async def test_pair_without_a_reachable_hub_fails_cleanly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await cli._pair(fast_settings(), "2222-2222", "http://127.0.0.1:9") == 1
    assert "pairing failed" in capsys.readouterr().err
