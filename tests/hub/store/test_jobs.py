"""Print jobs through the store: idempotency, the transition table, races, expiry, tenancy."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from hub.store import Database, IdempotencyConflict, NotFound
from hub.store.jobs import (
    PAGE_SIZE,
    NewJob,
    copies_of,
    create_job,
    document_body,
    expire_jobs,
    get_job,
    job_events,
    list_jobs,
    pending_jobs_for_agent,
    pending_jobs_for_printer,
    raw_body,
    set_job_state,
)
from shared.documents import ReceiptDocument
from shared.jobs import JOB_STATES, IllegalTransition, can_transition
from shared.wire import ErrorInfo
from tests.hub.store.conftest import T0, Tenants

PID = "net:10.0.0.5:9100"
#: A legal path from "queued" to each state.
PATHS = {
    "queued": [],
    "sent": ["sent"],
    "printing": ["sent", "printing"],
    "printed": ["sent", "printed"],
    "failed": ["failed"],
    "expired": ["expired"],
    "unconfirmed": ["sent", "printing", "unconfirmed"],
    "sent_to_printer": ["sent", "printing", "sent_to_printer"],
}


def new_job(tenants: Tenants, **changes: Any) -> NewJob:
    job = NewJob(
        company_id=tenants.company,
        branch_id=tenants.branch,
        printer_id=PID,
        agent_id=tenants.agent,
        kind="raw",
        body=raw_body(b"\x1b@hello\n"),
        expires_at=T0 + timedelta(hours=1),
        submitted_by="alice",
    )
    return replace(job, **changes)


async def _create(db: Database, job: NewJob, now: Any = T0) -> str:
    async with db.session() as s:
        row, created = await create_job(s, job, now)
    assert created
    return row.id


async def _walk(db: Database, job_id: str, states: list[str]) -> None:
    for state in states:
        async with db.session() as s:
            await set_job_state(s, job_id, state, now=T0)


async def test_create_and_read_back(db: Database, tenants: Tenants) -> None:
    doc = ReceiptDocument.model_validate({"lines": [{"type": "text", "text": "Table 4"}]})
    job = new_job(tenants, kind="document", body=document_body(doc), copies=2)
    job_id = await _create(db, job)
    async with db.session() as s:
        row = await get_job(s, tenants.company, job_id)
        events = await job_events(s, job_id)
    assert row is not None
    assert (row.state, row.attempts, row.copies, row.kind) == ("queued", 0, 2, "document")
    assert row.body == doc.to_wire() and row.created_at == row.updated_at == T0
    assert len(row.correlation_id) == 36 and row.expires_at == T0 + timedelta(hours=1)
    assert [(e.state, e.at) for e in events] == [("queued", T0)]


def test_a_job_the_hub_could_never_send_is_refused(tenants: Tenants) -> None:
    with pytest.raises(ValueError, match="'raw'"):
        new_job(tenants, body={"lines": []})
    with pytest.raises(ValueError, match="copies"):
        new_job(tenants, copies=11)
    with pytest.raises(ValueError, match="naive"):
        new_job(tenants, expires_at=T0.replace(tzinfo=None))


async def test_another_companys_job_is_invisible(db: Database, tenants: Tenants) -> None:
    job_id = await _create(db, new_job(tenants))
    async with db.session() as s:
        assert await get_job(s, tenants.other_company, job_id) is None
        assert await list_jobs(s, tenants.other_company) == []
        assert await pending_jobs_for_printer(s, tenants.other_company, PID, T0) == []
        with pytest.raises(NotFound):
            await set_job_state(s, job_id, "sent", company_id=tenants.other_company)
        with pytest.raises(NotFound):
            await set_job_state(s, "no-such-job", "sent")


async def test_idempotency_keys(db: Database, tenants: Tenants) -> None:
    job = new_job(tenants, idempotency_key="order-42")
    async with db.session() as s:
        first, created = await create_job(s, job, T0)
        again, created_again = await create_job(s, job, T0 + timedelta(seconds=5))
        other, other_created = await create_job(s, replace(job, idempotency_key="order-43"))
        theirs, theirs_created = await create_job(
            s, replace(job, company_id=tenants.other_company, branch_id=tenants.other_branch)
        )
    assert created and not created_again and other_created and theirs_created
    assert again == first
    assert len({first.id, other.id, theirs.id}) == 3
    with pytest.raises(IdempotencyConflict):
        async with db.session() as s:
            await create_job(s, replace(job, body=raw_body(b"other bytes")))


async def test_racing_creates_with_one_key_make_one_job(db: Database, tenants: Tenants) -> None:
    job = new_job(tenants, idempotency_key="order-7")

    async def create() -> tuple[str, bool]:
        async with db.session() as s:
            row, created = await create_job(s, job)
        return row.id, created

    outcomes = await asyncio.gather(*(create() for _ in range(4)))
    assert len({job_id for job_id, _ in outcomes}) == 1
    assert sorted(created for _, created in outcomes) == [False, False, False, True]


@pytest.mark.parametrize("current", JOB_STATES)
async def test_every_transition_through_the_store(
    db: Database, tenants: Tenants, current: str
) -> None:
    for new in JOB_STATES:
        job_id = await _create(db, new_job(tenants))
        await _walk(db, job_id, PATHS[current])
        if can_transition(current, new):
            async with db.session() as s:
                assert (await set_job_state(s, job_id, new)).state == new
        else:
            with pytest.raises(IllegalTransition):
                async with db.session() as s:
                    await set_job_state(s, job_id, new)
            async with db.session() as s:
                row = await get_job(s, tenants.company, job_id)
                assert row is not None and row.state == current
                assert len(await job_events(s, job_id)) == 1 + len(PATHS[current])


async def test_events_attempts_and_errors(db: Database, tenants: Tenants) -> None:
    job_id = await _create(db, new_job(tenants, agent_id=None))
    lost = ErrorInfo(code="agent_lost", message="the agent disconnected")
    jam = ErrorInfo(code="paper_out", message="out of paper")
    async with db.session() as s:
        await set_job_state(s, job_id, "sent", agent_id=tenants.agent, now=T0)
        requeued = await set_job_state(s, job_id, "queued", error=lost, detail="agent left")
        assert (requeued.error_code, requeued.agent_id) == ("agent_lost", tenants.agent)
        resent = await set_job_state(s, job_id, "sent")
        assert resent.error_code is None and resent.attempts == 2
        await set_job_state(s, job_id, "printing")
        failed = await set_job_state(s, job_id, "failed", error=jam)
    assert (failed.state, failed.error_code, failed.error_message) == (
        "failed",
        *("paper_out", "out of paper"),
    )
    async with db.session() as s:
        events = await job_events(s, job_id)
    assert [e.state for e in events] == ["queued", "sent", "queued", "sent", "printing", "failed"]
    assert events[1].detail == "dispatched to the agent" and events[2].detail == "agent left"


@pytest.mark.parametrize(("first", "second"), [("printed", "printed"), ("printed", "failed")])
async def test_racing_state_changes_let_exactly_one_win(
    db: Database, tenants: Tenants, first: str, second: str
) -> None:
    job_id = await _create(db, new_job(tenants))
    await _walk(db, job_id, ["sent"])

    async def change(state: str) -> str:
        try:
            async with db.session() as s:
                await set_job_state(s, job_id, state)
        except IllegalTransition as error:
            return error.code
        return state

    outcomes = await asyncio.gather(change(first), change(second), change(first))
    winners = [o for o in outcomes if o in ("printed", "failed")]
    assert len(winners) == 1
    assert sorted(outcomes).count("job_already_final") == 2
    async with db.session() as s:
        row = await get_job(s, tenants.company, job_id)
        assert row is not None and row.state == winners[0]
        assert [e.state for e in await job_events(s, job_id)] == ["queued", "sent", winners[0]]


async def test_list_jobs_filters_and_pages(db: Database, tenants: Tenants) -> None:
    ids = [
        await _create(db, new_job(tenants, printer_id=f"p{i % 2}"), T0 + timedelta(minutes=i))
        for i in range(5)
    ]
    await _walk(db, ids[0], ["sent"])
    async with db.session() as s:
        assert [j.id for j in await list_jobs(s, tenants.company)] == ids[::-1]
        assert [j.id for j in await list_jobs(s, tenants.company, printer_id="p1")] == [
            ids[3],
            ids[1],
        ]
        assert [j.id for j in await list_jobs(s, tenants.company, state="sent")] == [ids[0]]
        assert [j.id for j in await list_jobs(s, tenants.company, limit=2, offset=1)] == [
            ids[3],
            ids[2],
        ]
        since = T0 + timedelta(minutes=3)
        assert [j.id for j in await list_jobs(s, tenants.company, since=since)] == [ids[4], ids[3]]
        assert len(await list_jobs(s, tenants.company, branch_id=tenants.branch, limit=0)) == 1
        assert await list_jobs(s, tenants.company, branch_id="b-other") == []


async def test_pending_jobs_for_redelivery(db: Database, tenants: Tenants) -> None:
    ids = {}
    for offset, state in enumerate(["queued", "sent", "printing", "printed", "failed"]):
        ids[state] = await _create(db, new_job(tenants), T0 + timedelta(minutes=offset))
        await _walk(db, ids[state], PATHS[state])
    short = new_job(tenants, expires_at=T0 + timedelta(minutes=10))
    ids["due"] = await _create(db, short, T0 + timedelta(minutes=9))
    unfinished = [ids["queued"], ids["sent"], ids["printing"]]
    async with db.session() as s:
        now = T0 + timedelta(minutes=20)
        assert [j.id for j in await pending_jobs_for_agent(s, tenants.agent, now)] == unfinished
        assert [
            j.id for j in await pending_jobs_for_printer(s, tenants.company, PID, now)
        ] == unfinished
        early = T0 + timedelta(minutes=9)
        assert len(await pending_jobs_for_agent(s, tenants.agent, early)) == 4
        assert await pending_jobs_for_agent(s, tenants.other_agent, now) == []
        assert await pending_jobs_for_agent(s, tenants.agent, T0 + timedelta(hours=2)) == []


async def test_pending_jobs_page_through_every_job_once(db: Database, tenants: Tenants) -> None:
    # Half of them share one creation time: the id breaks the tie, so no page skips one.
    times = [T0 + timedelta(seconds=i // 2) for i in range(2 * PAGE_SIZE + 50)]
    ids = [await _create(db, new_job(tenants), at) for at in times]
    now, seen, after = T0 + timedelta(minutes=30), [], None
    while True:
        async with db.session() as s:
            page = await pending_jobs_for_agent(s, tenants.agent, now, after=after)
        seen += [job.id for job in page]
        if len(page) < PAGE_SIZE:
            break
        after = page[-1].page_key
        async with db.session() as s:  # states changing between pages move nothing
            await set_job_state(s, page[0].id, "sent", now=T0)
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
    assert seen == sorted(ids, key=lambda i: (times[ids.index(i)], i))


async def test_pending_jobs_idle_since(db: Database, tenants: Tenants) -> None:
    quiet = await _create(db, new_job(tenants), T0)
    busy = await _create(db, new_job(tenants), T0)
    async with db.session() as s:
        await set_job_state(s, busy, "sent", now=T0 + timedelta(minutes=5))
    async with db.session() as s:
        idle = await pending_jobs_for_agent(
            s, tenants.agent, T0 + timedelta(minutes=6), idle_since=T0 + timedelta(minutes=1)
        )
    assert [job.id for job in idle] == [quiet]


async def test_a_reprint_links_to_its_original(db: Database, tenants: Tenants) -> None:
    original = await _create(db, new_job(tenants))
    await _walk(db, original, PATHS["unconfirmed"])
    first = await _create(db, new_job(tenants, copy_of=original), T0 + timedelta(seconds=1))
    again = await _create(db, new_job(tenants, copy_of=original), T0 + timedelta(seconds=2))
    async with db.session() as s:
        assert await copies_of(s, original) == [first, again]
        row = await get_job(s, tenants.company, first)
        assert row is not None and row.copy_of == original
        await create_job(s, new_job(tenants, idempotency_key="k1", copy_of=original))
    with pytest.raises(IdempotencyConflict):
        async with db.session() as s:
            await create_job(s, new_job(tenants, idempotency_key="k1"))


async def test_expire_jobs(db: Database, tenants: Tenants) -> None:
    ids = {}
    for state in ["queued", "sent", "printing", "printed"]:
        ids[state] = await _create(db, new_job(tenants))
        await _walk(db, ids[state], PATHS[state])
    ids["later"] = await _create(db, new_job(tenants, expires_at=T0 + timedelta(hours=3)))
    deadline = T0 + timedelta(hours=1)
    async with db.session() as s:
        assert await expire_jobs(s, deadline - timedelta(seconds=1)) == []
        expired = await expire_jobs(s, deadline)
        assert await expire_jobs(s, deadline) == []
    assert expired == sorted([ids["queued"], ids["sent"]])
    async with db.session() as s:
        states = {name: (await get_job(s, tenants.company, i)) for name, i in ids.items()}
        trail = [e.state for e in await job_events(s, ids["sent"])]
    assert {name: row.state for name, row in states.items() if row} == {
        "queued": "expired",
        "sent": "expired",
        "printing": "printing",
        "printed": "printed",
        "later": "queued",
    }
    assert states["queued"] is not None and states["queued"].error_code == "job_expired"
    assert trail == ["queued", "sent", "expired"]
