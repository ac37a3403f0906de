"""End to end on loopback: a write-only USB printer and a Star-mode printer, through a real hub
and a real agent. Each reports the status its channel can give, and nothing more."""

from __future__ import annotations

import base64
from typing import Any

from agent.simulators.brain import PrinterBrain, SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.usb_backend import FakeUsbBackend, generic_pos58
from shared.tokens import Role
from tests.e2e.support import device_token, eventually, fast_settings, hub_agent, running_agent
from tests.support import HubHarness

NS = "/printing-ws"


def _raw(marker: str) -> str:
    return base64.b64encode(b"\x1b@" + marker.encode() + b"\n\x1dV\x00").decode()


async def _test(hub: HubHarness, printer_id: str, correlation: str) -> dict[str, Any]:
    status, body = await hub.post(
        f"/api/v1/printers/{printer_id}/test?correlationId={correlation}",
        {},
        token=hub.token(Role.MANAGER, "acme"),
    )
    assert status == 200, body
    result: dict[str, Any] = body["result"]
    return result


async def _job_state(hub: HubHarness, printer_id: str, marker: str, final: str) -> dict[str, Any]:
    status, job = await hub.post(
        "/api/v1/jobs", {"printerId": printer_id, "raw": _raw(marker)}, token=hub.token()
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
            job = await _job_state(hub, star.printer_id, "STAR-JOB-1", "printed")
            assert job["state"] == "printed"
            assert star.count_jobs_containing("STAR-JOB-1") == 1
