"""The web UI as a newcomer meets it (issue 17): signed in as a branch's manager, not only as a
company-wide one, against a real hub, a real agent and simulated printers named like stations."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import pytest

from agent.simulators.fleet import SimulatorFleet
from hub.store import tenants, users
from tests.e2e.support import device_token, eventually, fast_settings, hub_agent, running_agent
from tests.support import HubHarness
from tests.web.browser import Browser, needs_browser

pytestmark = [needs_browser, pytest.mark.timeout(180)]

PASSWORD = "correct horse battery"
#: What a page must never show a person.
INTERNALS = ("null", "undefined", "[object Object]", "Traceback", "Errno", "Connect call failed")


async def _accounts(hub: HubHarness) -> None:
    async with hub.ctx.db.session() as s:
        await tenants.ensure_branch(s, "b1", "acme", "Main Street")
        await users.create_user(s, "bea", PASSWORD, "manager", "acme", "b1")
        await users.create_user(s, "adi", PASSWORD, "admin", "acme")


async def sign_in(browser: Browser, url: str, username: str) -> None:
    """Through the form, as a person would."""
    await browser.get(url + "/")
    await browser.type("#username", username)
    await browser.type("#password", PASSWORD)
    await browser.click("#login-form button[type=submit]")
    await browser.find("#branches")


async def page_text(browser: Browser) -> str:
    return str(await browser.js("return document.querySelector('main').innerText"))


def assert_plain(text: str) -> None:
    """No internals on the page (as whole words: "nullable" would be fine)."""
    for internal in INTERNALS:
        found = re.search(rf"(?<![\w-]){re.escape(internal)}(?![\w-])", text)
        assert found is None, (internal, text)


@contextlib.asynccontextmanager
async def kitchen_and_bar(hub: HubHarness) -> AsyncIterator[SimulatorFleet]:
    """Kitchen and Bar, by name, behind one agent of branch b1."""
    await _accounts(hub)
    async with SimulatorFleet(2, announce=False) as fleet:
        entries = tuple(f"{p.name}={p.host}:{p.port}" for p in fleet.printers)
        async with running_agent(
            fast_settings(hub_url=hub.url, manual_printers=entries), device_token(hub)
        ):
            await eventually(lambda: hub_agent(hub) and len(hub_agent(hub).printers) == 2)
            yield fleet


def _row(printer_id: str) -> str:
    return f'li.printer[data-printer-id="{printer_id}"]'


async def test_a_branch_manager_sees_no_null_on_the_branches_page(
    hub: HubHarness, browser: Browser
) -> None:
    await _accounts(hub)
    await sign_in(browser, hub.url, "bea")
    await browser.until("return document.querySelector('#branches li') !== null")
    text = await page_text(browser)
    assert "b1" in text and "0 printers" in text
    assert_plain(text)
    assert await browser.all("#add-branch-form") == []
    await browser.screenshot("branches-branch-manager")


async def test_monitoring_says_how_to_see_the_charts_and_an_admin_sees_them(
    hub: HubHarness, browser: Browser
) -> None:
    await _accounts(hub)
    await sign_in(browser, hub.url, "bea")
    await browser.get(hub.url + "/#/dashboard")
    note = await browser.text("#dash-note")
    assert "chit-hub user add --role admin --company acme" in note, note
    assert await browser.js("return document.querySelector('.dash-grid').hidden") is True

    await browser.js("sessionStorage.clear()")
    await sign_in(browser, hub.url, "adi")
    await browser.get(hub.url + "/#/dashboard")
    await browser.until("return Number(document.querySelector('.view').dataset.polls) >= 1")
    assert await browser.js("return document.querySelector('.dash-grid').hidden") is False
    assert await browser.js("return document.querySelector('#dash-note').hidden") is True
    assert_plain(await page_text(browser))


async def test_names_failures_in_words_and_test_prints_listed(
    hub: HubHarness, browser: Browser
) -> None:
    async with kitchen_and_bar(hub) as fleet:
        kitchen, bar = fleet.printers
        bar_row = _row(bar.printer_id)
        await sign_in(browser, hub.url, "bea")
        await browser.click('a[href="#/branches/b1"]')
        await browser.until("return document.querySelectorAll('li.printer').length === 2")
        names = await browser.js(
            "return [...document.querySelectorAll('li.printer .printer-name')].map(e => e.textContent)"
        )
        assert sorted(names) == ["Bar", "Kitchen"], names
        assert "Test pages are listed under Test prints" in await browser.text("#jobs-title + p")

        # A job's row names its printer.
        status, job = await hub.post(
            "/api/v1/jobs",
            {"printerId": kitchen.printer_id, "raw": "SGVsbG8K"},
            token=hub.token(branch="b1"),
        )
        assert status == 201, job
        row = f'#jobs-table tr[data-job-id="{job["jobId"]}"]'
        await browser.until(
            "const r = document.querySelector(arguments[0]); return r && r.children[1].textContent === 'Kitchen'",
            row,
        )

        # A test print shows up under Test prints, marked as printed.
        await browser.click(f"{_row(kitchen.printer_id)} .test-button")
        await browser.find(f'{_row(kitchen.printer_id)} .test-result[data-outcome="success"]')
        await browser.find('#tests-table tr[data-state="printed"]')
        assert "Kitchen" in await browser.text('#tests-table tr[data-state="printed"]')

        # The printer is gone: the failure says what happened and what to do, in words.
        await bar.stop()
        await browser.click(f"{bar_row} .test-button")
        await browser.find(f'{bar_row} .test-result[data-outcome="failure"]')
        failure = await browser.text(f"{bar_row} .test-result")
        assert "did not answer" in failure and "switched on" in failure, failure
        assert_plain(failure)
        await browser.find('#tests-table tr[data-state="failed"]')
        listed = await browser.text('#tests-table tr[data-state="failed"]')
        assert "Bar" in listed and "did not answer" in listed, listed
        assert_plain(await page_text(browser))
        await browser.screenshot("branch-test-prints")
        assert await browser.console_errors() == []
