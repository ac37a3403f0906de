"""Unconfirmed jobs and reprints over REST, with a scripted agent: stored, listed, scoped, audited."""

from __future__ import annotations

import base64
from typing import Any

from hub.store.audit import list_audit
from shared.tokens import Role
from tests.hub.test_jobs_api import RAW, _report, _submit
from tests.hub.test_printer_tests import NS, PRINTER, _agent
from tests.support import HubHarness, Recorder, settle

INTERRUPTED = {"code": "agent_interrupted", "message": "the agent stopped mid-job"}


async def _unconfirmed(hub: HubHarness) -> tuple[Recorder, dict[str, Any]]:
    """An agent and a job it reported unconfirmed."""
    agent = await _agent(hub)
    status, job = await _submit(hub, {"printerId": PRINTER["printerId"], "raw": RAW})
    assert status == 201
    [dispatched] = await agent.wait_for(NS, "print:job")
    assert (await _report(agent, dispatched, "printing"))["ok"]
    assert (await _report(agent, dispatched, "unconfirmed", INTERRUPTED))["ok"]
    return agent, job


def _reprint(hub: HubHarness, job_id: str, token: str, **headers: str) -> Any:
    return hub.post(f"/api/v1/jobs/{job_id}/reprint", None, token=token, headers=headers or None)


async def test_an_unconfirmed_job_is_stored_listed_broadcast_and_final(hub: HubHarness) -> None:
    watcher = await hub.connect(hub.token(Role.STAFF, "acme", "b1"), [NS])
    agent, job = await _unconfirmed(hub)
    manager = hub.token(Role.MANAGER, "acme")
    _, body = await hub.get(f"/api/v1/jobs/{job['jobId']}", manager)
    assert (body["state"], body["error"]) == ("unconfirmed", INTERRUPTED)
    assert [h["state"] for h in body["history"]] == ["queued", "sent", "printing", "unconfirmed"]
    assert body["reprints"] == [] and body["copyOf"] is None
    _, listed = await hub.get("/api/v1/jobs?state=unconfirmed", manager)
    assert [j["jobId"] for j in listed["jobs"]] == [job["jobId"]]
    updates = await watcher.wait_for(NS, "printJobUpdate", count=4)
    assert updates[-1]["state"] == "unconfirmed"
    assert updates[-1]["error"]["code"] == "agent_interrupted"
    [dispatched] = agent.events(NS, "print:job")
    ack = await _report(agent, dispatched, "printed")
    assert ack["error"]["code"] == "job_final"
    assert (await _report(agent, dispatched, "unconfirmed", INTERRUPTED))["ok"]  # a re-send


async def test_staff_reprint_a_copy_linked_and_audited(hub: HubHarness) -> None:
    agent, job = await _unconfirmed(hub)
    staff = hub.token(Role.STAFF, "acme", "b1", sub="till-staff")
    status, copy = await _reprint(hub, job["jobId"], staff)
    assert status == 201, copy
    assert copy["copyOf"] == job["jobId"] and copy["jobId"] != job["jobId"]
    assert copy["submittedBy"] == "till-staff"
    dispatched = await agent.wait_for(NS, "print:job", count=2)
    assert dispatched[1]["jobId"] == copy["jobId"]
    assert dispatched[1]["copyOf"] == job["jobId"]
    assert base64.b64decode(dispatched[1]["raw"]) == base64.b64decode(RAW)
    assert "copyOf" not in dispatched[0]
    _, original = await hub.get(f"/api/v1/jobs/{job['jobId']}", staff)
    assert original["reprints"] == [copy["jobId"]]
    assert original["state"] == "unconfirmed"  # the original stays what it was
    async with hub.ctx.db.session() as s:
        entries = await list_audit(s, "acme")
    [entry] = [e for e in entries if e.action == "job.reprint"]
    assert (entry.actor, entry.target) == ("till-staff", job["jobId"])
    assert entry.detail == {"jobId": copy["jobId"], "originalState": "unconfirmed"}


async def test_a_reprint_key_makes_one_copy(hub: HubHarness) -> None:
    agent, job = await _unconfirmed(hub)
    manager = hub.token(Role.MANAGER, "acme")
    first = await _reprint(hub, job["jobId"], manager, **{"Idempotency-Key": "reprint-1"})
    again = await _reprint(hub, job["jobId"], manager, **{"Idempotency-Key": "reprint-1"})
    assert (first[0], again[0]) == (201, 200)
    assert first[1]["jobId"] == again[1]["jobId"]
    status, body = await _reprint(hub, job["jobId"], manager, **{"Idempotency-Key": "bad key"})
    assert (status, body["code"]) == (422, "invalid_header")
    await settle()
    assert len(agent.events(NS, "print:job")) == 2


async def test_reprint_is_scoped_to_the_jobs_branch_and_people(hub: HubHarness) -> None:
    agent, job = await _unconfirmed(hub)
    job_id = job["jobId"]
    for token, expected in [
        (hub.token(Role.STAFF, "acme", "b2"), (404, "not_found")),
        (hub.token(Role.MANAGER, "bistro"), (404, "not_found")),
        (hub.token(Role.SERVICE, "acme"), (403, "role_not_allowed")),
        (hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-1"), (403, "role_not_allowed")),
    ]:
        status, body = await _reprint(hub, job_id, token)
        assert (status, body["code"]) == expected
    manager = hub.token(Role.MANAGER, "acme")
    for unknown in ("no-such-job", "x" * 80):
        status, body = await _reprint(hub, unknown, manager)
        assert (status, body["code"]) == (404, "not_found")
    status, body = await _reprint(hub, "a%00b", manager)  # refused before any query
    assert (status, body["code"]) == (422, "invalid_path")
    status, body = await hub.post(f"/api/v1/jobs/{job_id}/reprint", None)
    assert status == 401
    await settle()
    assert len(agent.events(NS, "print:job")) == 1


async def test_a_job_still_in_progress_is_not_reprinted(hub: HubHarness) -> None:
    agent = await _agent(hub)
    _, job = await _submit(hub, {"printerId": PRINTER["printerId"], "raw": RAW})
    await agent.wait_for(NS, "print:job")
    status, body = await _reprint(hub, job["jobId"], hub.token(Role.MANAGER, "acme"))
    assert (status, body["code"]) == (409, "job_not_final")
