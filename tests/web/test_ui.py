"""The manager UI in a real browser against a real hub, a real agent and simulated printers."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.service import Agent
from agent.simulators.brain import SimState
from agent.simulators.fleet import SimulatorFleet
from hub.store import tenants, users
from tests.e2e.support import (
    device_token,
    eventually,
    fast_settings,
    hub_agent,
    manual,
    running_agent,
)
from tests.support import HubHarness
from tests.web.browser import Browser, needs_browser

pytestmark = [needs_browser, pytest.mark.timeout(180)]

PASSWORD = "correct horse battery"


@dataclass
class Scene:
    """A hub, a signed-in browser, an agent and its simulated printers."""

    hub: HubHarness
    browser: Browser
    fleet: SimulatorFleet
    agent: Agent


async def _manager(hub: HubHarness) -> None:
    async with hub.ctx.db.session() as s:
        await tenants.ensure_branch(s, "b1", "acme", "Main Street")
        await users.create_user(s, "ana", PASSWORD, "manager", "acme")


async def sign_in(browser: Browser, url: str) -> None:
    """Log in through the form, as a manager would."""
    await browser.get(url + "/")
    await browser.type("#username", "ana")
    await browser.type("#password", PASSWORD)
    await browser.click("#login-form button[type=submit]")
    await browser.find("#branches")


@contextlib.asynccontextmanager
async def scene(hub: HubHarness, browser: Browser) -> AsyncIterator[Scene]:
    """Two simulated printers behind one agent in branch b1 of acme, and a manager account."""
    await _manager(hub)
    async with SimulatorFleet(2, announce=False) as fleet:
        settings = fast_settings(
            hub_url=hub.url,
            manual_printers=tuple(f"{p.host}:{p.port}" for p in fleet.printers),
        )
        async with running_agent(settings, device_token(hub)) as agent:
            await eventually(lambda: hub_agent(hub) and len(hub_agent(hub).printers) == 2)
            yield Scene(hub, browser, fleet, agent)


def _row(printer_id: str) -> str:
    return f'li.printer[data-printer-id="{printer_id}"]'


async def _open_branch(s: Scene) -> None:
    await sign_in(s.browser, s.hub.url)
    await s.browser.screenshot("branches")
    await s.browser.click('a[href="#/branches/b1"]')
    await s.browser.until("return document.querySelectorAll('li.printer').length === 2")


async def test_login_page_looks_right(hub: HubHarness, browser: Browser) -> None:
    await browser.get(hub.url + "/")
    assert await browser.text("h1") == "Sign in to Chit"
    await browser.screenshot("login")
    await _manager(hub)
    await browser.type("#username", "ana")
    await browser.type("#password", "wrong password")
    await browser.click("#login-form button[type=submit]")
    await browser.until("return document.querySelector('#login-error').textContent.length > 0")
    assert "wrong" in await browser.text("#login-error")


async def test_printers_appear_test_and_go_out_of_paper_live(
    hub: HubHarness, browser: Browser
) -> None:
    async with scene(hub, browser) as s:
        await _open_branch(s)
        ok_printer, other = s.fleet.printers
        assert "Ready" in await browser.text(f"{_row(ok_printer.printer_id)} .printer-badge")
        await browser.find("#live[data-tone=ok]")
        await browser.js("window.__sameDocument = true")

        await browser.click(f"{_row(ok_printer.printer_id)} .test-button")
        await browser.find(f'{_row(ok_printer.printer_id)} .test-result[data-outcome="success"]')
        result = await browser.text(f"{_row(ok_printer.printer_id)} .test-result")
        assert "Test page printed" in result
        assert re.search(r"\d+ ms", result)
        correlation = await browser.text(f"{_row(ok_printer.printer_id)} .test-result code")
        assert ok_printer.count_jobs_containing(correlation) == 1

        other.set_state(SimState.PAPER_OUT)
        await browser.until(
            "return document.querySelector(arguments[0]).textContent === 'Paper out'",
            f"{_row(other.printer_id)} .printer-badge",
        )
        assert await browser.text(f"{_row(other.printer_id)} .printer-hint") == "Load paper."
        await browser.click(f"{_row(other.printer_id)} .test-button")
        await browser.find(f'{_row(other.printer_id)} .test-result[data-outcome="failure"]')
        assert "paper" in (await browser.text(f"{_row(other.printer_id)} .test-result")).lower()
        assert await browser.js("return window.__sameDocument") is True, "the page reloaded"
        await browser.screenshot("branch-printers")
        await browser.screenshot("branch-printers-tablet", width=768)
        assert await browser.console_errors() == []


async def test_jobs_update_live_and_agent_offline_says_since_when(
    hub: HubHarness, browser: Browser
) -> None:
    async with scene(hub, browser) as s:
        await _open_branch(s)
        printer = s.fleet.printers[0]
        status, job = await hub.post(
            "/api/v1/jobs",
            {"printerId": printer.printer_id, "raw": "SGVsbG8K"},
            token=hub.token(branch="b1"),
        )
        assert status == 201, job
        badge = f'#jobs-table tr[data-job-id="{job["jobId"]}"] .job-badge'
        await browser.until(
            "const b = document.querySelector(arguments[0]); return b && b.textContent === 'printed'",
            badge,
        )
        await s.agent.stop()
        await browser.until(
            "return document.querySelector('.agent-badge').textContent === 'Agent offline'"
        )
        assert await browser.text(f"{_row(printer.printer_id)} .printer-badge") == "Unreachable"
        await browser.click(f"{_row(printer.printer_id)} .test-button")
        await browser.find(f'{_row(printer.printer_id)} .test-result[data-outcome="failure"]')
        text = await browser.text(f"{_row(printer.printer_id)} .test-result")
        assert re.search(r"agent agent-e2e is offline since \d\d:\d\d UTC", text), text
        assert "Chit agent is running" in text
        await browser.screenshot("branch-agent-offline")


async def test_pairing_code_and_revoking_an_agent(hub: HubHarness, browser: Browser) -> None:
    async with scene(hub, browser) as s:
        await sign_in(browser, hub.url)
        await browser.get(hub.url + "/#/branches/b1/agents")
        await browser.find('li.agent-row[data-agent-id="agent-e2e"]')
        await browser.click("#create-code")
        code = await browser.text("#pairing-code")
        assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code), code
        assert "expires at" in await browser.text("#pairing .expiry")
        await browser.screenshot("agents-pairing")

        await browser.click('li.agent-row[data-agent-id="agent-e2e"] .revoke-button')
        await browser.find("#confirm[open]")
        await browser.screenshot("agents-revoke-confirm")
        await browser.click("#confirm-ok")
        await eventually(lambda: hub_agent(s.hub) is None)
        # A revoked agent is gone from the list (it can only come back by pairing again).
        await browser.until(
            "return document.querySelector('li.agent-row[data-agent-id=\"agent-e2e\"]') === null"
        )


async def test_a_bad_session_goes_back_to_login(hub: HubHarness, browser: Browser) -> None:
    await browser.get(hub.url + "/")
    await browser.js(
        "sessionStorage.setItem('chit.token', arguments[0])", hub.token(ttl_seconds=-3600)
    )
    await browser.get(hub.url + "/#/branches")
    await browser.find("#login-form")
    assert await browser.js("return sessionStorage.getItem('chit.token')") is None


async def test_the_page_reconnects_and_refreshes_after_a_hub_restart(
    tmp_path: Path, browser: Browser
) -> None:
    first = await HubHarness.start(tmp_path / "hub")
    port = int(first.url.rsplit(":", 1)[1])
    await _manager(first)
    async with SimulatorFleet(1, announce=False) as fleet:
        printer = fleet.printers[0]
        settings = fast_settings(hub_url=first.url, manual_printers=(manual(printer),))
        async with running_agent(settings, device_token(first)):
            await sign_in(browser, first.url)
            await browser.click('a[href="#/branches/b1"]')
            await browser.find(_row(printer.printer_id))
            await browser.js("window.__sameDocument = true")
            await first.stop()
            await browser.until("return document.querySelector('#live').dataset.tone !== 'ok'")
            second = await HubHarness.start(tmp_path / "hub", port=port)
            try:
                await browser.find("#live[data-tone=ok]", timeout=20)
                await eventually(lambda: (a := hub_agent(second)) and a.printers, timeout=20)
                printer.set_state(SimState.COVER_OPEN)
                await browser.until(
                    "const b = document.querySelector(arguments[0]);"
                    "return b && b.textContent === 'Cover open'",
                    f"{_row(printer.printer_id)} .printer-badge",
                )
                assert await browser.js("return window.__sameDocument") is True
            finally:
                await second.stop()


async def test_a_manager_adds_a_branch(hub: HubHarness, browser: Browser) -> None:
    await _manager(hub)
    await sign_in(browser, hub.url)
    await browser.click("details.add-branch summary")
    await browser.type("#branchId", "b-airport")
    await browser.type("#branchName", "Airport")
    await browser.click("#add-branch-form button[type=submit]")
    await browser.until(
        "return [...document.querySelectorAll('#branches .branch-name')]"
        ".some((e) => e.textContent === 'Airport')"
    )
    await browser.click("details.add-branch summary")
    await browser.type("#branchId", "b-airport")
    await browser.click("#add-branch-form button[type=submit]")
    await browser.until(
        "return document.querySelector('#add-branch-error').textContent.includes('exists')"
    )


async def test_a_manager_renames_a_printer_and_sets_its_text_mode(
    hub: HubHarness, browser: Browser
) -> None:
    async with scene(hub, browser) as s:
        await _open_branch(s)
        printer = s.fleet.printers[0]
        row = _row(printer.printer_id)
        # The printer said what it is (GS I): model, serial and the profile chosen for it.
        assert "TM-T20III" in await browser.text(f"{row} .printer-meta")
        assert f"serial {printer.serial}" in await browser.text(f"{row} .printer-identity")
        assert "profile TM-T20II" in await browser.text(f"{row} .printer-identity")
        await browser.click(f"{row} .settings-button")
        await browser.find(f"{row} .printer-settings:not([hidden])")
        assert await browser.js(
            "return document.querySelector(arguments[0]).value", f"{row} input[name=name]"
        ) == await browser.text(f"{row} .printer-name")
        await browser.js(
            "const f = document.querySelector(arguments[0]);"
            "f.elements.name.value = 'Grill'; f.elements.textMode.value = 'image';"
            "f.elements.paperWidthMm.value = '58';",
            f"{row} .printer-settings",
        )
        await browser.click(f"{row} .save-settings")
        await browser.until(
            "return document.querySelector(arguments[0]).textContent === 'Grill'",
            f"{row} .printer-name",
        )
        info = s.agent.coordinators[printer.printer_id].info
        assert (info.name, info.text_mode, info.paper_width_mm) == ("Grill", "image", 58)
        assert "text image" in await browser.text(f"{row} .printer-identity")
        assert await browser.console_errors() == []
        # A bad profile is refused with the hub's message, in the form.
        await browser.click(f"{row} .settings-button")
        await browser.js(
            "document.querySelector(arguments[0]).elements.profile.value = 'TM-NOPE'",
            f"{row} .printer-settings",
        )
        await browser.click(f"{row} .save-settings")
        await browser.until(
            "return document.querySelector(arguments[0]).textContent.includes('TM-NOPE')",
            f"{row} .settings-error",
        )
        await browser.screenshot("branch-printer-settings")
