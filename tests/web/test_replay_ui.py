"""The branch page replays what it missed while its socket was away, and reloads only when told."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete

from agent.simulators.brain import SimState
from hub.store.models import StreamHead
from shared.events import PrintJobUpdate, lookup
from shared.namespaces import Namespace
from shared.wire import ErrorInfo
from tests.support import HubHarness
from tests.web.browser import Browser, needs_browser
from tests.web.test_ui import _open_branch, _row, scene

pytestmark = [needs_browser, pytest.mark.timeout(180)]

#: Counts the page's REST calls for jobs, and loads the page's live module into window.__live.
INSTRUMENT = """
window.__jobFetches = 0;
const original = window.fetch;
window.fetch = (url, options) => {
  if (String(url).includes('/api/v1/jobs')) window.__jobFetches += 1;
  return original(url, options);
};
import('/static/live.js').then((module) => { window.__live = module; });
"""
#: Drops the transport as a network hiccup would; socket.io reconnects after four seconds.
DROP = """
const socket = window.__live.current();
socket.io.randomizationFactor(0);
socket.io.reconnectionDelay(4000);
socket.io.reconnectionDelayMax(4000);
socket.io.engine.close();
"""


async def _drop(browser: Browser) -> None:
    await browser.js(DROP)
    await browser.until("return document.querySelector('#live').dataset.tone !== 'ok'")


async def test_missed_job_and_printer_updates_are_replayed_not_refetched(
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
        await browser.find("#live[data-tone=ok]")
        await browser.js(INSTRUMENT)
        await browser.until("return Boolean(window.__live)")
        before = await browser.js("return window.__live.offset()")
        assert before is not None and before["stream"] == "acme"

        await _drop(browser)
        # While the page is away: the printer's cover opens, and the job's state changes.
        printer.set_state(SimState.COVER_OPEN)
        update = PrintJobUpdate(
            job_id=job["jobId"],
            correlation_id=job["correlationId"],
            printer_id=printer.printer_id,
            state="failed",
            error=ErrorInfo(code="cover_open", message="Reprinted elsewhere"),
            at=datetime.now(UTC),
        )
        spec = lookup(Namespace.PRINTING, "printJobUpdate")
        await hub.ctx.publisher.to_tenant(spec, update, "acme", "b1")

        await browser.find("#live[data-tone=ok]", timeout=20)
        await browser.until(
            "return document.querySelector(arguments[0]).textContent === 'failed'", badge
        )
        await browser.until(
            "return document.querySelector(arguments[0]).textContent === 'Cover open'",
            f"{_row(printer.printer_id)} .printer-badge",
        )
        assert await browser.js("return window.__jobFetches") == 0  # replayed, not refetched
        after = await browser.js("return window.__live.offset()")
        assert after["epoch"] == before["epoch"] and after["seq"] > before["seq"]

        # History lost (a new epoch): the hub says so and the page reloads over REST.
        async with hub.ctx.db.session() as session:
            await session.execute(delete(StreamHead))
        await _drop(browser)
        await browser.find("#live[data-tone=ok]", timeout=20)
        await browser.until("return window.__jobFetches >= 1")
        renewed = await browser.js("return window.__live.offset()")
        assert renewed["epoch"] != before["epoch"]
        assert await browser.console_errors() == []
