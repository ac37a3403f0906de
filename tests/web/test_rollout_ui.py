"""Roll-out and support in the browser: the enrolment form, "Collect diagnostics" and the fleet."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent import settings as store
from agent.enrollment import enroll
from hub.store import tenants
from tests.e2e.support import eventually, fast_settings, hub_agent
from tests.support import HubHarness
from tests.web.browser import Browser, needs_browser
from tests.web.test_ui import scene, sign_in

pytestmark = [needs_browser, pytest.mark.timeout(180)]


async def test_a_manager_creates_an_enrolment_code_and_a_till_enrols_with_it(
    hub: HubHarness, browser: Browser
) -> None:
    async with scene(hub, browser):
        await sign_in(browser, hub.url)
        await browser.get(hub.url + "/#/branches/b1/agents")
        await browser.find("#enrol-form")
        await browser.type("#enrol-max-uses", "2")
        await browser.js("document.getElementById('enrol-expires-in').value = '86400'")
        await browser.click("#create-enrol-code")
        code = await browser.text("#enrol-code")
        assert re.fullmatch(r"([A-Z0-9]{4}-){3}[A-Z0-9]{4}", code), code
        assert f'code = "{code}"' in await browser.text("#enrol-preseed")
        await browser.find('#enrol-codes li[data-state="active"]')
        assert "0 of 2 used" in await browser.text("#enrol-codes .enrol-uses")
        await browser.screenshot("agents-enrolment")
        # A till enrols with the code shown; the list counts the use after a reload.
        enrolled = await enroll(fast_settings(agent_id="till-from-ui"), hub.url, code)
        assert enrolled.branch_id == "b1" and store.read_token()
        await browser.js("location.reload()")
        await browser.until(
            "return (document.querySelector('#enrol-codes .enrol-uses') || {}).textContent"
            " === '1 of 2 used'"
        )
        await browser.click("#enrol-codes .enrol-revoke")
        await browser.find('#enrol-codes li[data-state="revoked"]')
        assert not await browser.console_errors()


async def test_collect_diagnostics_offers_a_redacted_download(
    hub: HubHarness, browser: Browser, tmp_path: Path
) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    behaviour = {"behavior": "allow", "downloadPath": str(downloads)}
    await browser.run(browser.driver.execute_cdp_cmd, "Page.setDownloadBehavior", behaviour)
    async with scene(hub, browser) as s:
        token = s.agent._token() or ""
        await sign_in(browser, hub.url)
        await browser.get(hub.url + "/#/branches/b1/agents")
        row = 'li.agent-row[data-agent-id="agent-e2e"]'
        await browser.click(f"{row} .diagnostics-button")
        await browser.find(f"{row} .diagnostics-out .spinner", timeout=5)
        link = await browser.find(f"{row} a.diagnostics-download", timeout=40)
        name = await browser.run(link.get_attribute, "download")
        assert name.startswith("chit-diagnostics-agent-e2e-") and name.endswith(".json")
        await browser.screenshot("agents-diagnostics")
        await browser.click(f"{row} a.diagnostics-download")
        saved = await eventually(lambda: next(iter(downloads.glob("*.json")), None), timeout=20)
    assert saved.name == name
    text = saved.read_text(encoding="utf-8")
    body = json.loads(text)
    assert body["agentId"] == "agent-e2e" and body["bundle"]["printers"]
    assert token and token.rsplit(".", 1)[1] not in text


async def test_the_fleet_page_lists_and_filters_agents(hub: HubHarness, browser: Browser) -> None:
    async with scene(hub, browser) as s:
        async with hub.ctx.db.session() as db:
            await tenants.ensure_branch(db, "b2", "acme", "Harbour")
        # A second, older agent in another branch that has gone offline.
        other = await hub.connect(
            hub.token("desktop_app", "acme", "b2", sub="till-old"), ["/printing-ws"]
        )
        hello = {
            "agentId": "till-old",
            "hostname": "old-pc",
            "os": "Windows 10",
            "version": "0.0.9",
        }
        assert (await other.call("/printing-ws", "agent:hello", hello))["ok"]
        await other.close()
        await eventually(lambda: not hub.ctx.printing.registry.agent("acme", "till-old").online)  # type: ignore[union-attr]
        await sign_in(browser, hub.url)
        await browser.click("#nav-fleet")
        await browser.until("return document.querySelectorAll('#fleet tr.fleet-row').length === 2")
        live = 'tr.fleet-row[data-agent-id="agent-e2e"]'
        assert "stable" in await browser.text(f"{live} .fleet-ring")
        assert await browser.all(f"{live} .fleet-printers li")  # its two simulated printers
        assert len(await browser.all(f"{live} .fleet-printers li")) == len(s.fleet.printers)
        await browser.screenshot("fleet")

        async def shown() -> list[str]:
            await browser.until(
                "return !document.querySelector('#fleet-count').textContent.includes('…')"
            )
            return sorted(
                await browser.js(
                    "return [...document.querySelectorAll('#fleet tr.fleet-row')].map((r) => r.dataset.agentId)"
                )
            )

        await browser.js(
            "const s = document.getElementById('state'); s.value = 'offline';"
            "s.dispatchEvent(new Event('change', {bubbles: true}))"
        )
        await browser.until("return document.querySelectorAll('#fleet tr.fleet-row').length === 1")
        assert await shown() == ["till-old"]
        assert "state=offline" in await browser.js("return location.hash")
        await browser.js(
            "const s = document.getElementById('state'); s.value = '';"
            "const v = document.getElementById('version'); v.value = '0.0.9';"
            "v.dispatchEvent(new Event('change', {bubbles: true}))"
        )
        await browser.until(
            "return document.querySelector('#fleet tr.fleet-row[data-agent-id=\"till-old\"]') && document.querySelectorAll('#fleet tr.fleet-row').length === 1"
        )
        await browser.js(
            "const v = document.getElementById('version'); v.value = '';"
            "const b = document.getElementById('branch'); b.value = 'b1';"
            "b.dispatchEvent(new Event('change', {bubbles: true}))"
        )
        await browser.until(
            "return document.querySelector('#fleet tr.fleet-row[data-agent-id=\"agent-e2e\"]') && document.querySelectorAll('#fleet tr.fleet-row').length === 1"
        )
        # The filters are in the address: a reload shows the same selection.
        await browser.js("location.reload()")
        await browser.until("return document.querySelectorAll('#fleet tr.fleet-row').length === 1")
        assert await browser.js("return document.getElementById('branch').value") == "b1"
        assert hub_agent(hub) is not None
        assert not await browser.console_errors()
