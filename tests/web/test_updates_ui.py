"""Agent updates in a real browser: an operator promotes a ring; a manager sees an agent's steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.support.select import Select

from shared.tokens import Role
from tests.support import HubHarness
from tests.updates_support import make_build, make_repository, release
from tests.web.browser import Browser, needs_browser

pytestmark = [needs_browser, pytest.mark.timeout(120)]
NS = "/printing-ws"


async def test_an_operator_promotes_and_a_manager_sees_the_agent_update(
    hub: HubHarness, browser: Browser, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    repo = make_repository(hub.data_dir, keys)
    for version in ("1.1.0", "1.2.0"):
        release(repo, keys, make_build(tmp_path / "dist", version), "linux-x86_64", version)
    await browser.get(hub.url + "/")
    await browser.js(
        "sessionStorage.setItem('chit.token', arguments[0])", hub.token(Role.OPERATOR, None)
    )
    await browser.get(hub.url + "/#/updates")
    await browser.find("#promote-canary")
    assert await browser.text("h1") == "Agent updates"
    element = await browser.find("#promote-canary")
    await browser.run(lambda: Select(element).select_by_value("1.2.0"))
    await browser.click("#promote-canary-button")
    await browser.until(
        "const r = document.querySelector('.ring-row[data-ring=\"canary\"] .muted');"
        "return r && r.textContent.startsWith('runs v1.2.0')"
    )
    promotions = await hub.ctx.updates.promotions()  # type: ignore[union-attr]
    assert promotions["canary"].version == "1.2.0"

    agent = await hub.connect(hub.token(Role.DESKTOP_APP, "acme", "b1", sub="till-3"), [NS])
    hello = {"agentId": "till-3", "hostname": "till-3", "os": "linux", "version": "1.1.0"}
    assert (await agent.call(NS, "agent:hello", hello))["ok"]
    step = {
        "agentId": "till-3",
        "step": "rolled_back",
        "version": "1.2.0",
        "fromVersion": "1.1.0",
        "detail": "the new version did not connect to the hub in time",
        "at": "2026-12-01T12:00:00Z",
    }
    assert (await agent.call(NS, "agent:update:status", step))["ok"]
    await browser.js(
        "sessionStorage.setItem('chit.token', arguments[0])", hub.token(Role.MANAGER, "acme")
    )
    await browser.get(hub.url + "/#/branches/b1/agents")
    await browser.find('.agent-row[data-agent-id="till-3"] summary')
    await browser.click('.agent-row[data-agent-id="till-3"] summary')
    text = await browser.until(
        "const s = document.querySelector('.agent-row[data-agent-id=\"till-3\"] .update-steps li');"
        "return s && s.textContent"
    )
    assert "v1.2.0: Rolled back" in text and "did not connect" in text
    # The manager moves this agent to canary; the hub offers it the canary version.
    select = await browser.find("#ring-till-3")
    await browser.run(lambda: Select(select).select_by_value("canary"))
    [offer] = await agent.wait_for(NS, "agent:update")  # Select fires one change event
    assert offer == {"ring": "canary", "version": "1.2.0"}
    assert await browser.console_errors() == []
    await browser.screenshot("agent-updates")
