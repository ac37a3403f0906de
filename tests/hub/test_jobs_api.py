"""Print jobs over REST with a scripted agent: delivery, states, idempotency, tenancy, bad input."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shared.tokens import Role
from tests.hub.test_printer_tests import NS, PRINTER, _agent
from tests.support import HubHarness, Recorder, settle

RAW = base64.b64encode(b"\x1b@hello\n\x1dV\x00").decode()
DOC = {"lines": [{"type": "text", "text": "Order 42", "bold": True}, {"type": "cut"}]}


async def _submit(
    hub: HubHarness, body: dict[str, Any], company: str = "acme", **headers: str
) -> tuple[int, Any]:
    return await hub.post(
        "/api/v1/jobs", body, token=hub.token(Role.MANAGER, company), headers=headers or None
    )


def _received_jobs(agent: Recorder) -> list[dict[str, Any]]:
    return agent.events(NS, "print:job")


async def _report(
    agent: Recorder, job: dict[str, Any], state: str, error: dict[str, str] | None = None
) -> Any:
    update = {
        "jobId": job["jobId"],
        "correlationId": job["correlationId"],
        "printerId": job["printerId"],
        "state": state,
    }
    if error:
        update["error"] = error
    return await agent.call(NS, "printJobUpdate", update)


async def test_job_is_delivered_and_tracked(hub: HubHarness) -> None:
    agent = await _agent(hub)
    watcher = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    status, job = await _submit(hub, {"printerId": PRINTER["printerId"], "raw": RAW})
    assert status == 201
    assert job["state"] in ("queued", "sent")
    [dispatched] = await agent.wait_for(NS, "print:job")
    assert dispatched["jobId"] == job["jobId"]
    assert base64.b64decode(dispatched["raw"]) == base64.b64decode(RAW)
    assert (await _report(agent, dispatched, "printing"))["ok"]
    assert (await _report(agent, dispatched, "printed"))["ok"]
    status, body = await hub.get(f"/api/v1/jobs/{job['jobId']}", hub.token(Role.MANAGER, "acme"))
    assert body["state"] == "printed"
    assert [h["state"] for h in body["history"]] == ["queued", "sent", "printing", "printed"]
    states = [u["state"] for u in await watcher.wait_for(NS, "printJobUpdate", count=4)]
    assert states == ["queued", "sent", "printing", "printed"]


async def test_document_job(hub: HubHarness) -> None:
    agent = await _agent(hub)
    status, _job = await _submit(
        hub, {"printerId": PRINTER["printerId"], "document": DOC, "copies": 2}
    )
    assert status == 201
    [dispatched] = await agent.wait_for(NS, "print:job")
    assert dispatched["document"]["lines"][0]["text"] == "Order 42"
    assert dispatched["copies"] == 2


async def test_idempotency_key_returns_the_first_job(hub: HubHarness) -> None:
    agent = await _agent(hub)
    body = {"printerId": PRINTER["printerId"], "raw": RAW}
    status, first = await _submit(hub, body, **{"Idempotency-Key": "order-42"})
    assert status == 201
    status, again = await _submit(hub, {**body, "idempotencyKey": "order-42"})
    assert status == 200
    assert again["jobId"] == first["jobId"]
    status, conflict = await _submit(
        hub, {**body, "raw": base64.b64encode(b"x").decode(), "idempotencyKey": "order-42"}
    )
    assert (status, conflict["code"]) == (409, "idempotency_conflict")
    await settle()
    assert len(_received_jobs(agent)) == 1


async def test_job_for_offline_agent_waits_and_is_delivered_on_reconnect(hub: HubHarness) -> None:
    agent = await _agent(hub)
    await agent.close()
    await settle()
    status, job = await _submit(hub, {"printerId": PRINTER["printerId"], "raw": RAW})
    assert status == 201
    assert job["state"] == "queued"
    again = await _agent(hub)
    [dispatched] = await again.wait_for(NS, "print:job")
    assert dispatched["jobId"] == job["jobId"]


async def test_other_tenants_cannot_see_or_report_jobs(hub: HubHarness) -> None:
    agent = await _agent(hub)
    other_agent = await _agent(hub, agent_id="agent-9", company="bistro", branch="b9")
    status, job = await _submit(hub, {"printerId": PRINTER["printerId"], "raw": RAW})
    [dispatched] = await agent.wait_for(NS, "print:job")
    status, _ = await hub.get(f"/api/v1/jobs/{job['jobId']}", hub.token(Role.MANAGER, "bistro"))
    assert status == 404
    status, body = await hub.get("/api/v1/jobs", hub.token(Role.MANAGER, "bistro"))
    assert body == {"jobs": []}
    ack = await _report(other_agent, dispatched, "printed")
    assert ack["error"]["code"] == "unknown_job"
    status, body = await _submit(
        hub, {"printerId": PRINTER["printerId"], "raw": RAW}, company="nobody"
    )
    assert (status, body["code"]) == (404, "unknown_printer")


async def test_illegal_transitions_are_refused(hub: HubHarness) -> None:
    agent = await _agent(hub)
    await _submit(hub, {"printerId": PRINTER["printerId"], "raw": RAW})
    [dispatched] = await agent.wait_for(NS, "print:job")
    assert (await _report(agent, dispatched, "printed"))["ok"]
    ack = await _report(agent, dispatched, "printing")
    assert ack["error"]["code"] == "job_final"
    assert (await _report(agent, dispatched, "printed"))["ok"]  # a repeat is harmless


async def test_failed_job_keeps_its_error(hub: HubHarness) -> None:
    agent = await _agent(hub)
    _, job = await _submit(hub, {"printerId": PRINTER["printerId"], "raw": RAW})
    [dispatched] = await agent.wait_for(NS, "print:job")
    await _report(agent, dispatched, "failed", {"code": "paper_out", "message": "load paper"})
    _, body = await hub.get(f"/api/v1/jobs/{job['jobId']}", hub.token(Role.MANAGER, "acme"))
    assert body["error"] == {"code": "paper_out", "message": "load paper"}


async def test_list_filters(hub: HubHarness) -> None:
    agent = await _agent(hub)
    for _ in range(3):
        await _submit(hub, {"printerId": PRINTER["printerId"], "raw": RAW})
    jobs = await agent.wait_for(NS, "print:job", count=3)
    await _report(agent, jobs[0], "printed")
    token = hub.token(Role.MANAGER, "acme")
    _, body = await hub.get("/api/v1/jobs?state=printed", token)
    assert [j["jobId"] for j in body["jobs"]] == [jobs[0]["jobId"]]
    _, body = await hub.get("/api/v1/jobs?limit=2", token)
    assert len(body["jobs"]) == 2
    status, body = await hub.get("/api/v1/jobs?colour=red", token)
    assert (status, body["code"]) == (422, "invalid_query")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"printerId": PRINTER["printerId"], "raw": "not base64!!"}, "raw"),
        ({"printerId": PRINTER["printerId"], "raw": "QUJD="}, "raw"),
        ({"printerId": PRINTER["printerId"], "raw": ""}, "raw"),
        ({"printerId": PRINTER["printerId"]}, None),
        ({"printerId": PRINTER["printerId"], "raw": RAW, "document": DOC}, None),
        ({"printerId": PRINTER["printerId"], "raw": RAW, "copies": "two"}, "copies"),
        ({"printerId": PRINTER["printerId"], "raw": RAW, "copies": 11}, "copies"),
        ({"printerId": PRINTER["printerId"], "raw": RAW, "priority": "high"}, "priority"),
        ({"printerId": 7, "raw": RAW}, "printerId"),
        (
            {"printerId": PRINTER["printerId"], "document": {"lines": [{"type": "laser"}]}},
            "document.lines.0",
        ),
    ],
)
async def test_bad_input_is_refused_with_the_field(
    hub: HubHarness, body: dict[str, Any], field: str | None
) -> None:
    agent = await _agent(hub)
    status, answer = await _submit(hub, body)
    assert status == 422, answer
    assert answer["code"] == "invalid_payload"
    if field:
        assert answer["field"].startswith(field)
    await settle()
    assert _received_jobs(agent) == []


async def test_huge_and_malformed_bodies(hub: HubHarness) -> None:
    token = hub.token(Role.MANAGER, "acme")
    huge = json.dumps(
        {"printerId": PRINTER["printerId"], "raw": base64.b64encode(b"x" * 2_000_000).decode()}
    ).encode()
    status, body = await hub.post("/api/v1/jobs", raw=huge, token=token)
    assert (status, body["code"]) == (413, "body_too_large")
    status, body = await hub.post("/api/v1/jobs", raw=b"[1,", token=token)
    assert (status, body["code"]) == (400, "invalid_json")
    status, body = await hub.post("/api/v1/jobs", {"printerId": "x", "raw": RAW})
    assert status == 401
    status, body = await hub.post(
        "/api/v1/jobs",
        {"printerId": "x", "raw": RAW},
        token=hub.token(Role.DESKTOP_APP, "acme", "b1"),
    )
    assert status == 403
