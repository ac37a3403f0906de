"""The manager UI for a printer without a status channel: its own state, never "Ready", and its
test page and jobs "sent" rather than "printed"."""

from __future__ import annotations

import pytest

from agent.simulators.usb_backend import FakeUsbBackend, generic_pos58
from tests.e2e.support import device_token, eventually, fast_settings, hub_agent, running_agent
from tests.support import HubHarness
from tests.web.browser import Browser, needs_browser
from tests.web.test_ui import _manager, _row, sign_in

pytestmark = [needs_browser, pytest.mark.timeout(180)]


async def test_a_write_only_printer_is_shown_as_printing_without_status(
    hub: HubHarness, browser: Browser
) -> None:
    await _manager(hub)
    device = generic_pos58()
    settings = fast_settings(hub_url=hub.url, usb=True)
    async with running_agent(settings, device_token(hub), usb_backend=FakeUsbBackend([device])):
        record = await eventually(lambda: hub_agent(hub))
        printer_id = await eventually(lambda: next(iter(record.printers), None))
        await sign_in(browser, hub.url)
        await browser.click('a[href="#/branches/b1"]')
        await browser.until("return document.querySelectorAll('li.printer').length === 1")
        badge = await browser.text(f"{_row(printer_id)} .printer-badge")
        assert badge == "Prints; no status"
        hint = await browser.text(f"{_row(printer_id)} .printer-hint")
        assert "the printer does not report status" in hint
        await browser.click(f"{_row(printer_id)} .test-button")
        await browser.find(f'{_row(printer_id)} .test-result[data-outcome="success"]')
        assert "Test page sent" in await browser.text(f"{_row(printer_id)} .test-result")
        status, job = await hub.post(
            "/api/v1/jobs", {"printerId": printer_id, "raw": "SGVsbG8K"}, token=hub.token()
        )
        assert status == 201, job
        await browser.until(
            "const b = document.querySelector(arguments[0]);"
            " return b && b.textContent === 'sent (no status)'",
            f'#jobs-table tr[data-job-id="{job["jobId"]}"] .job-badge',
        )
        await browser.screenshot("branch-printer-no-status")
        assert await browser.console_errors() == []
