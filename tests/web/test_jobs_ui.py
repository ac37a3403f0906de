"""The jobs table in a real browser: an unconfirmed job is shown as such and reprinted as a COPY."""

from __future__ import annotations

from typing import Any

import pytest

from agent.jobs import JobRunner
from agent.simulators.brain import SimState
from tests.support import HubHarness
from tests.web.browser import Browser, needs_browser
from tests.web.test_ui import _open_branch, scene

pytestmark = [needs_browser, pytest.mark.timeout(180)]

RAW = "G0BDSEVDSy00MgodVgA="  # ESC @ "CHECK-42" LF GS V 0
BADGE = "const b = document.querySelector(arguments[0]); return b && b.textContent === arguments[1]"


async def test_an_unconfirmed_job_is_reprinted_as_a_copy(
    hub: HubHarness, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with scene(hub, browser) as s:
        printer = s.fleet.printers[0]
        recorded = JobRunner._printing

        async def then_paper_out(self: JobRunner, job: Any) -> None:
            await recorded(self, job)
            printer.set_state(SimState.PAPER_OUT)  # between the check and the write

        monkeypatch.setattr(JobRunner, "_printing", then_paper_out)
        await _open_branch(s)
        status, job = await hub.post(
            "/api/v1/jobs", {"printerId": printer.printer_id, "raw": RAW}, token=hub.token()
        )
        assert status == 201, job
        row = f'#jobs-table tr[data-job-id="{job["jobId"]}"]'
        await browser.until(BADGE, f"{row} .job-badge", "unconfirmed")
        assert "may not have printed" in await browser.text(row)
        await browser.screenshot("branch-job-unconfirmed")
        monkeypatch.setattr(JobRunner, "_printing", recorded)
        printer.set_state(SimState.OK)
        await browser.click(f"{row} .reprint-button")
        await browser.until(
            "return [...document.querySelectorAll('#jobs-table tr')].some((r) =>"
            " r.querySelector('.copy-mark') && r.querySelector('.job-badge').textContent"
            " === 'printed')"
        )
        assert printer.count_jobs_containing("CHECK-42") == 1
        [printed] = [j for j in printer.brain.jobs if b"CHECK-42" in j]
        assert b"COPY" in printed
        await browser.screenshot("branch-job-reprinted")
        assert await browser.console_errors() == []
