"""A whole agent and a Star printer in Star Line Mode (USB TSP654II and a network one): the
test page and a print job go out in Star Line Mode, and no ESC/POS command is among them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent.service import Agent
from agent.simulators.brain import PrinterBrain
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.star_paper import PrintedCut, read_paper
from agent.simulators.usb_backend import FakeUsbBackend, star_tsp650
from shared.events import PrinterTestRequest, PrintJobDispatch
from tests.e2e.support import eventually, fast_settings, running_agent

ESC_POS_ONLY = (b"\x1dV", b"\x1dv0", b"\x1d(k")
RECEIPT = {
    "lines": [
        {"type": "text", "text": "TABLE 4", "bold": True, "align": "center", "width": 2},
        {"type": "pair", "left": "Soup", "right": "3.50"},
        {"type": "text", "text": "شاورما"},
        {"type": "qr", "data": "order-4"},
    ]
}


@contextlib.asynccontextmanager
async def star_agent(kind: str) -> AsyncIterator[tuple[Agent, PrinterBrain]]:
    """A running agent with one Star-mode printer, by USB or on the network."""
    brain = PrinterBrain(mode="star")
    if kind == "usb":
        backend = FakeUsbBackend([star_tsp650(brain=brain)])
        async with running_agent(fast_settings(usb=True), lambda: None, usb_backend=backend) as a:
            yield a, brain
        return
    async with SimulatedNetworkPrinter(name="Star", brain=brain) as sim:
        settings = fast_settings(manual_printers=(f"{sim.host}:{sim.port}",))
        async with running_agent(settings, lambda: None) as agent:
            yield agent, brain


def _star_printer(agent: Agent) -> str | None:
    return next((pid for pid, c in agent.coordinators.items() if c.channel == "star"), None)


def _job_with(brain: PrinterBrain, marker: bytes) -> bytes:
    """The one printed job holding ``marker``, from its ``ESC @`` on (status probes before)."""
    [job] = [job for job in brain.jobs if marker in job]
    for command in ESC_POS_ONLY:
        assert command not in job
    return job[job.index(b"\x1b@") :]


@pytest.mark.parametrize("kind", ["usb", "network"])
async def test_test_page_and_job_print_in_star_line_mode(kind: str) -> None:
    async with star_agent(kind) as (agent, brain):
        printer_id = await eventually(lambda: _star_printer(agent))
        request = PrinterTestRequest(correlation_id=f"corr-star-{kind}", printer_id=printer_id)
        result = await agent.test_print(request)
        assert result.success, result
        page = read_paper(_job_with(brain, request.correlation_id.encode()))
        assert page.unknown == [] and page.items[-1] == PrintedCut(partial=False)
        assert request.correlation_id in page.texts and "Profile: Star Line Mode" in page.texts
        assert [qr.data for qr in page.qr_codes] == [request.correlation_id.encode()]
        assert len(page.images) == 2 and all(i.width <= 576 for i in page.images)

        job: dict[str, Any] = {
            "jobId": f"job-star-{kind}",
            "correlationId": f"job-star-{kind}",
            "printerId": printer_id,
        }
        assert agent.jobs is not None
        await agent.jobs.accept(PrintJobDispatch.model_validate({**job, "document": RECEIPT}))
        await eventually(lambda: brain.count_jobs_containing(b"TABLE 4") == 1)
        receipt = read_paper(_job_with(brain, b"TABLE 4"))
        assert receipt.unknown == []
        assert receipt.lines[0].text == "TABLE 4" and receipt.lines[0].bold
        assert receipt.texts[1] == "Soup" + " " * 40 + "3.50"  # 48 columns
        assert len(receipt.images) == 1 and [q.data for q in receipt.qr_codes] == [b"order-4"]
