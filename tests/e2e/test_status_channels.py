"""End to end on loopback: a write-only USB printer and Star-mode printers, through a real hub
and a real agent. Each reports the status its channel can give, and nothing more; the Star Line
Mode ones (a network one, a USB TSP654II) get their test pages and receipts in Star Line Mode,
a USB TSP143 (raster only) as Star raster, and in Line Mode only when a manager says so; a
network TSP143IIILAN found by the sweep says its model (``ESC # * LF NUL``), so the hub lists
it by model and it prints raster with no setting."""

from __future__ import annotations

import base64
from typing import Any

from agent.simulators.brain import PrinterBrain, SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.star_graphic_paper import read_graphic_paper
from agent.simulators.star_paper import PrintedCut, StarPaper, read_paper
from agent.simulators.usb_backend import FakeUsbBackend, generic_pos58, star_tsp100, star_tsp650
from shared.escpos import star_raster
from shared.tokens import Role
from tests.e2e.support import device_token, eventually, fast_settings, hub_agent, running_agent
from tests.support import HubHarness

NS = "/printing-ws"


#: ESC/POS's cut, and Star Line Mode's (``ESC d 2``: feed to the cutter, full cut).
ESC_POS_CUT, STAR_CUT = b"\x1dV\x00", b"\x1bd\x02"
#: ESC/POS commands a Star printer in Star mode does not have: cut, raster image, 2D code.
ESC_POS_ONLY = (b"\x1dV", b"\x1dv0", b"\x1d(k")


def _raw(marker: str, cut: bytes = ESC_POS_CUT) -> str:
    return base64.b64encode(b"\x1b@" + marker.encode() + b"\n" + cut).decode()


def _star_test_page(brain: PrinterBrain, correlation: str) -> StarPaper:
    """The test page a Star-mode printer printed, read as Star Line Mode (no ESC/POS in it)."""
    [job] = [job for job in brain.jobs if correlation.encode() in job]
    for command in ESC_POS_ONLY:
        assert command not in job
    page = read_paper(job[job.index(b"\x1b@") :])  # status probes come before its ESC @
    assert page.unknown == [] and page.cuts == [PrintedCut(partial=False)]
    assert correlation in page.texts and "Profile: Star Line Mode" in page.texts
    assert [qr.data for qr in page.qr_codes] == [correlation.encode()]
    assert len(page.images) == 2  # its Arabic and Chinese lines
    return page


async def _test(hub: HubHarness, printer_id: str, correlation: str) -> dict[str, Any]:
    status, body = await hub.post(
        f"/api/v1/printers/{printer_id}/test?correlationId={correlation}",
        {},
        token=hub.token(Role.MANAGER, "acme"),
    )
    assert status == 200, body
    result: dict[str, Any] = body["result"]
    return result


async def _job_state(
    hub: HubHarness, printer_id: str, marker: str, final: str, cut: bytes = ESC_POS_CUT
) -> dict[str, Any]:
    status, job = await hub.post(
        "/api/v1/jobs", {"printerId": printer_id, "raw": _raw(marker, cut)}, token=hub.token()
    )
    assert status == 201, job
    token = hub.token(Role.MANAGER, "acme")

    async def settled() -> dict[str, Any] | None:
        _, body = await hub.get(f"/api/v1/jobs/{job['jobId']}", token)
        return body if body["state"] == final else None

    found: dict[str, Any] | None = None

    async def poll() -> bool:
        nonlocal found
        found = await settled()
        return found is not None

    await _until(poll)
    assert found is not None
    return found


async def _until(check: Any, timeout: float = 10.0) -> None:
    import asyncio

    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def _listed(hub: HubHarness, printer_id: str) -> dict[str, Any]:
    _, body = await hub.get("/api/v1/printers", hub.token(Role.MANAGER, "acme"))
    [row] = [p for p in body["printers"] if p["printerId"] == printer_id]
    return row  # type: ignore[no-any-return]


async def test_a_write_only_usb_printer_prints_a_test_page_and_a_job(hub: HubHarness) -> None:
    device = generic_pos58()
    settings = fast_settings(hub_url=hub.url, usb=True)
    async with running_agent(settings, device_token(hub), usb_backend=FakeUsbBackend([device])):
        record = await eventually(lambda: hub_agent(hub))
        printer_id = await eventually(lambda: next(iter(record.printers), None))
        assert printer_id.startswith("usb:0416:5011:path-")
        row = await _listed(hub, printer_id)
        assert row["statusChannel"] == "none"
        assert row["status"]["state"] == "no_status" and row["status"]["source"] == "none"
        assert "online" not in row["status"]  # never claimed
        assert row["status"]["detail"] == "prints; the printer does not report status"
        result = await _test(hub, printer_id, "corr-e2e-pos58a")
        assert result["success"] is True, result
        assert result["status"]["state"] == "no_status"
        assert device.brain.count_jobs_containing("corr-e2e-pos58a") == 1
        job = await _job_state(hub, printer_id, "POS58-JOB-1", "sent_to_printer")
        assert [e["state"] for e in job["history"]][-1] == "sent_to_printer"
        assert device.brain.count_jobs_containing("POS58-JOB-1") == 1
        assert device.brain.queries == 0  # it was never asked for a status


async def test_a_star_printer_reports_paper_out_and_cover_open(hub: HubHarness) -> None:
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    brain = PrinterBrain(mode="star")
    async with SimulatedNetworkPrinter(name="Star", brain=brain) as star:
        settings = fast_settings(hub_url=hub.url, manual_printers=(f"{star.host}:{star.port}",))
        async with running_agent(settings, device_token(hub)):
            record = await eventually(lambda: hub_agent(hub))
            await eventually(lambda: star.printer_id in record.printers)
            await eventually(lambda: record.printers[star.printer_id].status_channel == "star")
            assert brain.asb_enabled  # ESC RS a 1 at first contact
            result = await _test(hub, star.printer_id, "corr-e2e-star01")
            assert result["success"] is True and result["status"]["state"] == "online"
            assert star.count_jobs_containing("corr-e2e-star01") == 1
            _star_test_page(brain, "corr-e2e-star01")
            for sim_state, hub_state in (
                (SimState.PAPER_OUT, "paper_out"),
                (SimState.COVER_OPEN, "cover_open"),
            ):
                brain.set_state(sim_state)
                await eventually(
                    lambda hub_state=hub_state: any(
                        u["status"]["state"] == hub_state
                        for u in manager.events(NS, "printerStatusUpdate")
                    )
                )
                refused = await _test(hub, star.printer_id, f"corr-e2e-star-{hub_state}")
                assert refused["success"] is False and refused["error"]["code"] == hub_state
            row = await _listed(hub, star.printer_id)
            assert row["status"]["coverOpen"] is True and row["statusChannel"] == "star"
            brain.set_state(SimState.OK)
            job = await _job_state(hub, star.printer_id, "STAR-JOB-1", "printed", STAR_CUT)
            assert job["state"] == "printed"
            assert star.count_jobs_containing("STAR-JOB-1") == 1


async def test_a_star_usb_printer_prints_test_page_and_receipt_in_star_line_mode(
    hub: HubHarness,
) -> None:
    brain = PrinterBrain(mode="star")
    device = star_tsp650(brain=brain)
    settings = fast_settings(hub_url=hub.url, usb=True)
    async with running_agent(settings, device_token(hub), usb_backend=FakeUsbBackend([device])):
        record = await eventually(lambda: hub_agent(hub))
        printer_id = await eventually(lambda: next(iter(record.printers), None))
        await eventually(lambda: record.printers[printer_id].status_channel == "star")
        result = await _test(hub, printer_id, "corr-e2e-tsp654")
        assert result["success"] is True and result["status"]["state"] == "online", result
        _star_test_page(brain, "corr-e2e-tsp654")
        receipt = {"lines": [{"type": "text", "text": "TSP-RECEIPT", "bold": True}]}
        status, job = await hub.post(
            "/api/v1/jobs", {"printerId": printer_id, "document": receipt}, token=hub.token()
        )
        assert status == 201, job
        await eventually(lambda: brain.count_jobs_containing("TSP-RECEIPT") == 1)
        [printed] = [j for j in brain.jobs if b"TSP-RECEIPT" in j]
        paper = read_paper(printed[printed.index(b"\x1b@") :])
        assert paper.lines[0].text == "TSP-RECEIPT" and paper.lines[0].bold
        assert paper.unknown == [] and b"\x1dV" not in printed


def _raster_job(job: bytes) -> StarPaper:
    """A job on a Star Graphic printer, read from raster mode on (status probes come first)."""
    page = read_graphic_paper(job[job.index(star_raster.ENTER) :])
    assert page.unknown == [] and page.texts == [] and page.cuts == [PrintedCut(partial=False)]
    assert len(page.images) == 1 and page.images[0].width <= 576
    return page


async def test_a_tsp143_prints_as_star_raster_and_a_manager_can_choose_line_mode(
    hub: HubHarness,
) -> None:
    device = star_tsp100()
    brain = device.brain
    settings = fast_settings(hub_url=hub.url, usb=True)
    async with running_agent(settings, device_token(hub), usb_backend=FakeUsbBackend([device])):
        record = await eventually(lambda: hub_agent(hub))
        printer_id = await eventually(lambda: next(iter(record.printers), None))
        await eventually(lambda: record.printers[printer_id].status_channel == "star")
        result = await _test(hub, printer_id, "corr-e2e-tsp143")
        assert result["success"] is True and result["status"]["state"] == "online", result
        [page] = brain.jobs
        assert _raster_job(page).images[0].height > 400  # the whole test page, drawn
        receipt = {"lines": [{"type": "text", "text": "TSP-RECEIPT", "bold": True}]}
        status, job = await hub.post(
            "/api/v1/jobs", {"printerId": printer_id, "document": receipt}, token=hub.token()
        )
        assert status == 201, job
        await eventually(lambda: len(brain.jobs) == 2)
        _raster_job(brain.jobs[1])

        manager, path = hub.token(Role.MANAGER, "acme"), f"/api/v1/printers/{printer_id}"
        status, body = await hub.patch(path, {"commandSet": "star-dot"}, manager)
        assert status == 422, body
        status, body = await hub.patch(path, {"commandSet": "star-line"}, manager)
        assert status == 200 and body["settings"]["commandSet"] == "star-line", body
        await eventually(lambda: record.printers[printer_id].command_set == "star-line")
        brain.clear()
        result = await _test(hub, printer_id, "corr-e2e-tsp143-line")
        assert result["success"] is True, result
        # Sent in Line Mode, as asked: a raster-only printer prints none of it.
        lost = brain.paper()
        assert lost.images == [] and lost.cuts == [] and lost.unknown


async def test_a_swept_network_tsp143_is_listed_by_model_and_prints_raster(
    hub: HubHarness,
) -> None:
    brain = PrinterBrain(mode="star_graphic")
    async with SimulatedNetworkPrinter(name="Star", brain=brain) as sim:
        settings = fast_settings(hub_url=hub.url, subnets=(f"{sim.host}/32",), sweep_port=sim.port)
        async with running_agent(settings, device_token(hub)):
            record = await eventually(lambda: hub_agent(hub))
            await eventually(lambda: sim.address_id in record.printers)
            await eventually(lambda: record.printers[sim.address_id].model == "TSP143IIIL")
            row = await _listed(hub, sim.address_id)
            assert row["statusChannel"] == "star" and row["manufacturer"] == "Star Micronics"
            assert row["name"] == f"TSP143IIIL at {sim.host}:{sim.port}"
            result = await _test(hub, sim.address_id, "corr-e2e-tsp143lan")
            assert result["success"] is True, result
            [page] = brain.jobs
            assert _raster_job(page).images[0].height > 400  # drawn, with no manager setting
