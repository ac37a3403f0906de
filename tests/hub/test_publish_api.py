"""POST /api/v1/events: valid events reach exactly the right rooms; invalid ones reach nobody."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.tokens import Role
from tests.support import HubHarness, Recorder, settle

ORDER = {"correlationId": "corr-order-1", "orderId": "o1", "status": "new"}


async def _everyone(hub: HubHarness) -> dict[str, Recorder]:
    return {
        "acme": await hub.connect(hub.token(Role.MANAGER, "acme")),
        "acme-b1": await hub.connect(hub.token(Role.STAFF, "acme", "b1")),
        "bistro": await hub.connect(hub.token(Role.MANAGER, "bistro")),
    }


async def _nobody_received(clients: dict[str, Recorder]) -> None:
    await settle()
    for name, client in clients.items():
        assert all(not events for events in client.received.values()), name


async def test_valid_event_reaches_exactly_the_tenant(hub: HubHarness) -> None:
    clients = await _everyone(hub)
    status, body = await hub.publish(
        "driverUpdate",
        {"orderId": "o1", "driverId": "d1", "location": {"lat": 31.9, "lng": 35.9}},
        branch="b1",
    )
    assert status == 202
    assert body["rooms"] == ["company:acme", "branch:b1"]
    got = await clients["acme-b1"].wait_for("/orders", "driverUpdate")
    offset = {"stream": "acme", "epoch": body["offset"]["epoch"], "seq": 1}
    assert body["offset"] == offset
    assert got == [
        {
            "orderId": "o1",
            "driverId": "d1",
            "location": {"lat": 31.9, "lng": 35.9},
            "_offset": offset,
        }
    ]
    await clients["acme"].wait_for("/orders", "driverUpdate")
    await settle()
    assert clients["bistro"].received == {}


async def test_correlation_id_is_added_to_critical_events(hub: HubHarness) -> None:
    client = await hub.connect(hub.token(Role.MANAGER, "acme"), ["/orders"])
    status, body = await hub.publish("orderCancelled", {"orderId": "o1"})
    assert status == 202
    assert body["correlationId"]
    [event] = await client.wait_for("/orders", "orderCancelled")
    assert event["correlationId"] == body["correlationId"]


async def test_platform_extra_fields_pass_through(hub: HubHarness) -> None:
    client = await hub.connect(hub.token(Role.MANAGER, "acme"), ["/orders"])
    await hub.publish("newOrder", {**ORDER, "items": [{"sku": "x", "qty": 2}], "total": 9.5})
    [event] = await client.wait_for("/orders", "newOrder")
    assert event["items"] == [{"sku": "x", "qty": 2}]


def _body(**overrides: Any) -> dict[str, Any]:
    return {
        "namespace": "/orders",
        "event": "newOrder",
        "companyId": "acme",
        "payload": ORDER,
        **overrides,
    }


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (_body(namespace="/kitchen"), 422, "invalid_envelope"),
        (_body(event="noSuchEvent"), 422, "unknown_event"),
        (_body(event="printer:test", namespace="/printing-ws"), 422, "not_publishable"),
        (_body(companyId="a:b"), 422, "invalid_envelope"),
        (_body(companyId=None), 422, "invalid_envelope"),
        (_body(payload={"orderId": "o1"}), 422, "invalid_payload"),
        (_body(payload={**ORDER, "status": 5}), 422, "invalid_payload"),
        (_body(payload="not an object"), 422, "invalid_envelope"),
        (_body(extra=1), 422, "invalid_envelope"),
        ([1, 2, 3], 422, "invalid_payload"),
    ],
)
async def test_invalid_requests_get_4xx_and_reach_nobody(
    hub: HubHarness, body: Any, status: int, code: str
) -> None:
    clients = await _everyone(hub)
    got_status, got = await hub.post("/api/v1/events", body, token=hub.token(Role.SERVICE, None))
    assert (got_status, got["code"]) == (status, code)
    assert got["message"]
    await _nobody_received(clients)


async def test_invalid_payload_names_the_field(hub: HubHarness) -> None:
    status, body = await hub.publish(
        "driverUpdate", {"orderId": "o1", "driverId": "d1", "location": {"lat": 91, "lng": 0}}
    )
    assert status == 422
    assert body["field"] == "payload.location.lat"


@pytest.mark.parametrize(
    ("token_kw", "status", "code"),
    [
        (None, 401, "token_missing"),
        ({"role": Role.MANAGER, "company": "acme"}, 403, "role_not_allowed"),
        ({"role": Role.DESKTOP_APP, "company": "acme"}, 403, "role_not_allowed"),
    ],
)
async def test_publishing_needs_a_service_token(
    hub: HubHarness, token_kw: Any, status: int, code: str
) -> None:
    clients = await _everyone(hub)
    token = hub.token(**token_kw) if token_kw else None
    got_status, got = await hub.post("/api/v1/events", _body(), token=token)
    assert (got_status, got["code"]) == (status, code)
    await _nobody_received(clients)


async def test_company_scoped_service_token_stays_in_its_company(hub: HubHarness) -> None:
    clients = await _everyone(hub)
    token = hub.token(Role.SERVICE, "acme")
    status, body = await hub.post("/api/v1/events", _body(companyId="bistro"), token=token)
    assert (status, body["code"]) == (403, "forbidden_tenant")
    await _nobody_received(clients)
    status, _ = await hub.post("/api/v1/events", _body(), token=token)
    assert status == 202


async def test_bad_json_and_content_type(hub: HubHarness) -> None:
    token = hub.token(Role.SERVICE, None)
    status, body = await hub.post("/api/v1/events", raw=b"{nope", token=token)
    assert (status, body["code"]) == (400, "invalid_json")
    status, body = await hub.post(
        "/api/v1/events", raw=b"{}", token=token, headers={"Content-Type": "text/plain"}
    )
    assert (status, body["code"]) == (415, "unsupported_media_type")


async def test_oversized_body_is_refused(hub: HubHarness) -> None:
    clients = await _everyone(hub)
    huge = json.dumps(_body(payload={**ORDER, "notes": "x" * (2 * 1024 * 1024)})).encode()
    status, body = await hub.post("/api/v1/events", raw=huge, token=hub.token(Role.SERVICE, None))
    assert (status, body["code"]) == (413, "body_too_large")
    await _nobody_received(clients)


async def test_oversized_payload_is_refused(hub: HubHarness) -> None:
    clients = await _everyone(hub)
    status, body = await hub.publish("newOrder", {**ORDER, "notes": "x" * (300 * 1024)})
    assert (status, body["code"]) == (413, "payload_too_large")
    await _nobody_received(clients)


async def test_unknown_api_route_is_json_404(hub: HubHarness) -> None:
    status, body = await hub.get("/api/v1/nope")
    assert (status, body["code"]) == (404, "not_found")


async def test_healthz(hub: HubHarness) -> None:
    await hub.connect(hub.token(), ["/orders"])
    status, body = await hub.get("/healthz")
    assert status == 200
    assert body["status"] == "ok"
    assert body["instance"] == hub.ctx.instance_id
    assert body["connections"] == 1
