"""A whole agent and a Star printer in Star Graphic mode (raster only, as the TSP100 family):
a USB TSP143IIIU is recognised by its model and gets the test page and a job as Star raster;
a network TSP143IIILAN found by the subnet sweep (no model from discovery) says its model to
``ESC # * LF NUL`` and gets raster with no manager setting; one that does not answer that
question gets Line Mode (and prints nothing) until a manager sets ``commandSet:
star-graphic``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from agent.service import Agent
from agent.simulators.brain import PrinterBrain
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.star_graphic_paper import read_graphic_paper
from agent.simulators.star_paper import PrintedCut, StarPaper
from agent.simulators.usb_backend import FakeUsbBackend, star_tsp100
from shared.escpos import star_raster
from shared.events import PrinterConfigure, PrinterTestRequest, PrintJobDispatch
from tests.e2e.support import eventually, fast_settings, running_agent

RECEIPT = {
    "lines": [
        {"type": "text", "text": "TABLE 4", "bold": True, "align": "center", "width": 2},
        {"type": "pair", "left": "Soup", "right": "3.50"},
        {"type": "text", "text": "شاورما"},
        {"type": "qr", "data": "order-4"},
    ]
}


@contextlib.asynccontextmanager
async def usb_agent() -> AsyncIterator[tuple[Agent, PrinterBrain]]:
    """A running agent with a USB TSP143IIIU (Star Graphic mode)."""
    device = star_tsp100()
    backend = FakeUsbBackend([device])
    async with running_agent(fast_settings(usb=True), lambda: None, usb_backend=backend) as a:
        yield a, device.brain


def _star_printer(agent: Agent) -> str | None:
    return next((pid for pid, c in agent.coordinators.items() if c.channel == "star"), None)


def _paper(job: bytes) -> StarPaper:
    """A job's paper from raster mode on (what comes before is what is left of the status
    probes: ``DLE EOT n`` with its ``EOT`` taken out as a Star request)."""
    return read_graphic_paper(job[job.index(star_raster.ENTER) :])


def _raster_only(paper: StarPaper) -> None:
    """Only raster on the paper, nothing the printer did not take, ending with a full cut."""
    assert paper.unknown == [] and paper.texts == [] and paper.qr_codes == []
    assert paper.images and all(image.width <= 576 for image in paper.images)
    assert paper.items[-1] == PrintedCut(partial=False)


async def test_a_tsp143_gets_the_test_page_and_jobs_as_star_raster() -> None:
    async with usb_agent() as (agent, brain):
        printer_id = await eventually(lambda: _star_printer(agent))
        request = PrinterTestRequest(correlation_id="corr-graphic", printer_id=printer_id)
        result = await agent.test_print(request)
        assert result.success, result
        [page_job] = brain.jobs
        assert page_job[page_job.index(star_raster.ENTER) :].startswith(star_raster.start())
        assert b"\x1bd" not in page_job  # no Line Mode cut
        page = _paper(page_job)
        _raster_only(page)
        # Title, lines, Arabic and Chinese, QR code and footer: all drawn, one image.
        [image] = page.images
        assert image.height > 400

        job: dict[str, Any] = {
            "jobId": "job-graphic",
            "correlationId": "job-graphic",
            "printerId": printer_id,
        }
        assert agent.jobs is not None
        await agent.jobs.accept(PrintJobDispatch.model_validate({**job, "document": RECEIPT}))
        await eventually(lambda: len(brain.jobs) == 2)
        receipt = _paper(brain.jobs[1])
        _raster_only(receipt)
        assert len(receipt.images) == 1 and receipt.images[0].height > 100


async def test_a_swept_network_tsp143_says_its_model_and_prints_raster() -> None:
    brain = PrinterBrain(mode="star_graphic")
    async with SimulatedNetworkPrinter(name="Star", brain=brain) as sim:
        settings = fast_settings(subnets=(f"{sim.host}/32",), sweep_port=sim.port)
        async with running_agent(settings, lambda: None) as agent:
            printer_id = await eventually(lambda: _star_printer(agent))
            assert printer_id == sim.address_id  # Star's reply has no serial
            coordinator = agent.coordinators[printer_id]
            await eventually(lambda: coordinator.info.model == "TSP143IIIL")
            info = coordinator.info
            assert (info.manufacturer, info.firmware) == ("Star Micronics", "1.2")
            assert info.name == f"TSP143IIIL at {sim.host}:{sim.port}"
            assert info.command_set is None  # nobody chose it
            request = PrinterTestRequest(correlation_id="corr-swept", printer_id=printer_id)
            assert (await agent.test_print(request)).success
            [page_job] = brain.jobs
            page = _paper(page_job)
            _raster_only(page)
            assert page.images[0].height > 400
            assert brain.version_queries >= 1 and brain.identity_queries == 0


async def test_a_network_tsp143_that_does_not_say_its_model_prints_after_command_set() -> None:
    brain = PrinterBrain(mode="star_graphic", star_version=None)
    async with SimulatedNetworkPrinter(name="Star", brain=brain) as sim:
        settings = fast_settings(manual_printers=(f"{sim.host}:{sim.port}",))
        async with running_agent(settings, lambda: None) as agent:
            printer_id = await eventually(lambda: _star_printer(agent))
            first = PrinterTestRequest(correlation_id="corr-line", printer_id=printer_id)
            assert (await agent.test_print(first)).success
            # No model to go by: Line Mode went out, and a raster-only printer printed nothing.
            assert agent.coordinators[printer_id].info.model is None
            lost = brain.paper()
            assert lost.images == [] and lost.cuts == [] and lost.unknown
            brain.clear()

            await agent.configure(
                PrinterConfigure(printer_id=printer_id, command_set="star-graphic")
            )
            assert agent.coordinators[printer_id].info.command_set == "star-graphic"
            second = PrinterTestRequest(correlation_id="corr-raster", printer_id=printer_id)
            assert (await agent.test_print(second)).success
            [job] = brain.jobs
            _raster_only(_paper(job))
