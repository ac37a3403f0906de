"""POST /api/v1/events/batch: each event published and answered on its own, in order."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from hub.services import stream_db
from shared.publish import MAX_BATCH_EVENTS
from shared.tokens import Role
from tests.support import HubHarness, Recorder, settle

BATCH = "/api/v1/events/batch"


def _event(order: str, company: str = "acme", **payload: Any) -> dict[str, Any]:
    return {
        "namespace": "/orders",
        "event": "newOrder",
        "companyId": company,
        "payload": {"orderId": order, "status": "new", **payload},
    }


async def _clients(hub: HubHarness) -> dict[str, Recorder]:
    return {
        "acme": await hub.connect(hub.token(Role.MANAGER, "acme"), ["/orders"]),
        "bistro": await hub.connect(hub.token(Role.MANAGER, "bistro"), ["/orders"]),
    }


def _orders(client: Recorder) -> list[str]:
    return [payload["orderId"] for _, payload in client.received["/orders"]]


async def test_a_batch_is_published_in_order_with_one_answer_per_event(hub: HubHarness) -> None:
    clients = await _clients(hub)
    events = [_event(f"o{i}") for i in range(20)]
    status, body = await hub.post(BATCH, {"events": events}, token=hub.token(Role.SERVICE, None))
    assert status == 200
    assert [r["status"] for r in body["results"]] == [202] * 20
    seqs = [r["body"]["offset"]["seq"] for r in body["results"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
    got = await clients["acme"].wait_for("/orders", "newOrder", count=20)
    assert [p["orderId"] for p in got] == [f"o{i}" for i in range(20)]
    assert [p["_offset"]["seq"] for p in got] == seqs
    await settle()
    assert clients["bistro"].received == {}


async def test_one_foreign_event_in_a_batch_is_refused_alone(hub: HubHarness) -> None:
    clients = await _clients(hub)
    token = hub.token(Role.SERVICE, "acme")  # a company-scoped service token
    events = [_event("a1"), _event("b1", company="bistro"), _event("a2")]
    status, body = await hub.post(BATCH, {"events": events}, token=token)
    assert status == 200
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [202, 403, 202]
    assert body["results"][1]["body"]["code"] == "forbidden_tenant"
    await clients["acme"].wait_for("/orders", "newOrder", count=2)
    await settle()
    assert _orders(clients["acme"]) == ["a1", "a2"]
    assert clients["bistro"].received == {}


async def test_payload_and_tenant_field_errors_are_answered_per_event(hub: HubHarness) -> None:
    clients = await _clients(hub)
    events = [
        _event("a1"),
        {**_event("x"), "event": "noSuchEvent"},
        _event("a2", companyId="bistro"),  # payload claims another tenant
        {**_event("x"), "payload": {"orderId": 7}},
        _event("a3"),
    ]
    status, body = await hub.post(BATCH, {"events": events}, token=hub.token(Role.SERVICE, None))
    assert status == 200
    answers = [(r["status"], r["body"].get("code")) for r in body["results"]]
    assert answers[0] == (202, None)
    assert answers[1][0] == 422
    assert answers[2] == (422, "tenant_mismatch")
    assert answers[3][0] == 422
    assert answers[4] == (202, None)
    await clients["acme"].wait_for("/orders", "newOrder", count=2)
    await settle()
    assert _orders(clients["acme"]) == ["a1", "a3"]
    assert clients["bistro"].received == {}


@pytest.mark.parametrize(
    "body",
    [
        {"events": []},
        {"events": [_event(f"o{i}") for i in range(MAX_BATCH_EVENTS + 1)]},
        {"events": [_event("o1"), {"namespace": "/orders"}]},
        {"events": "x"},
        [_event("o1")],
        {"events": [_event("o1")], "extra": 1},
    ],
)
async def test_a_batch_of_the_wrong_shape_is_refused_whole(hub: HubHarness, body: Any) -> None:
    clients = await _clients(hub)
    status, answer = await hub.post(BATCH, body, token=hub.token(Role.SERVICE, None))
    assert (status, answer["code"]) == (422, "invalid_envelope")
    await settle()
    assert clients["acme"].received == {}


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), (Role.MANAGER, 403), (Role.DESKTOP_APP, 403)]
)
async def test_a_batch_needs_a_service_token(
    hub: HubHarness, role: Role | None, status: int
) -> None:
    clients = await _clients(hub)
    token = hub.token(role, "acme") if role else None
    got, _ = await hub.post(BATCH, {"events": [_event("o1")]}, token=token)
    assert got == status
    await settle()
    assert clients["acme"].received == {}


async def test_a_batch_is_made_durable_in_one_transaction(hub: HubHarness) -> None:
    assert hub.ctx.streams is not None
    backend = hub.ctx.streams.backend
    before = getattr(backend, "commits", None)
    assert before is not None
    events = [_event(f"o{i}") for i in range(MAX_BATCH_EVENTS)]
    status, body = await hub.post(BATCH, {"events": events}, token=hub.token(Role.SERVICE, None))
    assert status == 200 and [r["status"] for r in body["results"]] == [202] * MAX_BATCH_EVENTS
    assert getattr(backend, "commits", 0) == before + 1


async def test_a_failed_append_answers_each_event_of_the_batch(
    hub: HubHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = await _clients(hub)
    failures = 1

    async def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked (injected)"))
        return await real(*args, **kwargs)

    real = stream_db.store.append_many
    monkeypatch.setattr(stream_db.store, "append_many", failing)
    token = hub.token(Role.SERVICE, "acme")
    events = [_event("a1"), _event("b1", company="bistro"), _event("a2")]
    status, body = await hub.post(BATCH, {"events": events}, token=token)
    assert status == 200
    answers = [(r["status"], r["body"].get("code")) for r in body["results"]]
    assert answers == [
        (503, "stream_unavailable"),
        (403, "forbidden_tenant"),
        (503, "stream_unavailable"),
    ]
    await settle()
    assert clients["acme"].received == {}  # nothing durable, nothing broadcast
    status, body = await hub.post(BATCH, {"events": [_event("a1"), _event("a2")]}, token=token)
    assert [r["body"]["offset"]["seq"] for r in body["results"]] == [1, 2]  # no seq was lost
    await clients["acme"].wait_for("/orders", "newOrder", count=2)
    assert _orders(clients["acme"]) == ["a1", "a2"]
