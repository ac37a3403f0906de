"""Branch ownership comes from the store, on every connect and publish, across restarts.

Seen from outside: after a restart the first token naming B's branch claimed it, so A's token
was accepted and B's own staff were refused with ``tenant_mismatch`` and B's publishes got 409;
a publish bound an unknown branch to whoever published first; refusals told a caller that an id
existed in another company. Here ``bistro`` owns ``b9`` and ``acme`` attacks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from shared.events import MonitoringAlert
from shared.tokens import Role, mint
from tests.support import SECRET, HubHarness, Recorder, settle

ORDER = {"orderId": "o-1", "status": "new"}
ORDERS = "/orders"


async def _refusal(url: str, token: str, namespace: str = ORDERS) -> dict[str, Any]:
    """The connect_error data a socket gets for ``token``."""
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace=namespace)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            url, namespaces=[namespace], auth={"token": token}, transports=["websocket"]
        )
    await client.disconnect()
    assert errors, "the hub gave no connect_error"
    return errors[0]["data"]  # type: ignore[no-any-return]


def _raw_token(company: str, branch: str, role: Role = Role.STAFF) -> str:
    """A valid token the harness does not provision: what an attacker holds."""
    return mint(SECRET, sub=f"{company}-user", role=role, company_id=company, branch_id=branch)


async def _publish(hub: HubHarness, token: str, company: str, branch: str) -> tuple[int, Any]:
    body = {
        "namespace": ORDERS,
        "event": "newOrder",
        "companyId": company,
        "branchId": branch,
        "payload": ORDER,
    }
    return await hub.post("/api/v1/events", body, token=token)


async def test_a_branch_nobody_provisioned_is_never_claimed(hub: HubHarness) -> None:
    refusal = await _refusal(hub.url, _raw_token("acme", "fresh-1"))
    assert refusal["code"] == "unknown_branch"
    service = mint(SECRET, sub="svc", role=Role.SERVICE, company_id="acme")
    status, body = await _publish(hub, service, "acme", "fresh-1")
    assert (status, body["code"], body["field"]) == (404, "unknown_branch", "branchId")
    # Still nobody's: its real owner provisions it and is admitted at once.
    manager = mint(SECRET, sub="boss", role=Role.MANAGER, company_id="bistro")
    status, body = await hub.post("/api/v1/branches", {"branchId": "fresh-1"}, token=manager)
    assert status == 201 and body["companyId"] == "bistro"
    staff = await hub.connect(_raw_token("bistro", "fresh-1"), [ORDERS])
    assert staff.client.connected
    assert (await _refusal(hub.url, _raw_token("acme", "fresh-1")))["code"] == "unknown_branch"


async def test_refusals_do_not_tell_another_companys_branch_from_an_unknown_one(
    hub: HubHarness,
) -> None:
    foreign = await _refusal(hub.url, _raw_token("acme", "b9"))
    unknown = await _refusal(hub.url, _raw_token("acme", "nowhere"))
    assert foreign["code"] == unknown["code"] == "unknown_branch"
    assert foreign["message"].replace("b9", "X") == unknown["message"].replace("nowhere", "X")
    service = mint(SECRET, sub="svc", role=Role.SERVICE, company_id="acme")
    foreign_pub = await _publish(hub, service, "acme", "b9")
    unknown_pub = await _publish(hub, service, "acme", "nowhere")
    assert foreign_pub[0] == unknown_pub[0] == 404
    assert foreign_pub[1]["code"] == unknown_pub[1]["code"] == "unknown_branch"


async def test_a_platform_wide_service_token_cannot_cross_branches_either(hub: HubHarness) -> None:
    victim = await hub.connect(_raw_token("bistro", "b9"), [ORDERS])
    platform = mint(SECRET, sub="platform", role=Role.SERVICE)
    status, body = await _publish(hub, platform, "acme", "b9")
    assert (status, body["code"]) == (404, "unknown_branch")
    branch_scoped = mint(SECRET, sub="svc", role=Role.SERVICE, company_id="acme", branch_id="b1")
    status, body = await _publish(hub, branch_scoped, "acme", "b2")
    assert (status, body["code"]) == (403, "forbidden_branch")
    await settle()
    assert victim.events(ORDERS) == []


async def test_ownership_survives_a_restart_whoever_comes_first(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    first = await HubHarness.start(data)
    await first.stop()
    hub = await HubHarness.start(data)
    try:
        # The first token after the restart is the attacker's: refused, and it binds nothing.
        assert (await _refusal(hub.url, _raw_token("acme", "b9")))["code"] == "unknown_branch"
        victim: Recorder = await hub.connect(_raw_token("bistro", "b9"), [ORDERS])
        service = mint(SECRET, sub="svc", role=Role.SERVICE, company_id="bistro")
        status, _ = await _publish(hub, service, "bistro", "b9")
        assert status == 202
        await victim.wait_for(ORDERS, "newOrder")
        attacker = mint(SECRET, sub="svc", role=Role.SERVICE, company_id="acme")
        status, _ = await _publish(hub, attacker, "acme", "b9")
        assert status == 404
        await settle()
        assert len(victim.events(ORDERS, "newOrder")) == 1
    finally:
        await hub.stop()


async def test_the_platform_provisions_branches_with_its_service_token(hub: HubHarness) -> None:
    platform = mint(SECRET, sub="platform", role=Role.SERVICE)
    status, body = await hub.post("/api/v1/branches", {"branchId": "p-1"}, token=platform)
    assert (status, body["field"]) == (422, "companyId")
    status, body = await hub.post(
        "/api/v1/branches", {"branchId": "p-1", "companyId": "acme", "name": "Pier"}, platform
    )
    assert (status, body["companyId"], body["name"]) == (201, "acme", "Pier")
    scoped = mint(SECRET, sub="svc", role=Role.SERVICE, company_id="bistro")
    status, body = await hub.post(
        "/api/v1/branches", {"branchId": "p-2", "companyId": "acme"}, token=scoped
    )
    assert (status, body["code"]) == (403, "forbidden_tenant")
    status, _ = await hub.post("/api/v1/branches", {"branchId": "p-2"}, token=scoped)
    assert status == 201
    await hub.connect(_raw_token("bistro", "p-2"), [ORDERS])


async def test_a_company_admin_never_gets_another_companys_alerts(hub: HubHarness) -> None:
    acme_admin = await hub.connect(hub.token(Role.ADMIN, "acme"), ["/printing-ws"])
    bistro_admin = await hub.connect(hub.token(Role.ADMIN, "bistro"), ["/printing-ws"])
    operator = await hub.connect(hub.token(Role.OPERATOR, None), ["/printing-ws"])

    alert = MonitoringAlert.model_validate(
        {
            "correlationId": "corr-alert-b",
            "alertId": "reconnects:bistro",
            "kind": "reconnect_rate",
            "severity": "warning",
            "state": "raised",
            "subject": "bistro-user",
            "companyId": "bistro",
            "message": "bistro-user reconnected 13 times",
            "value": 13,
            "threshold": 10,
            "raisedAt": "2026-01-01T00:00:00Z",
        }
    )
    await hub.ctx.observer.engine._emit(alert)
    await bistro_admin.wait_for("/printing-ws", "newAlert")
    await settle()
    assert acme_admin.events("/printing-ws", "newAlert") == []
    assert operator.events("/printing-ws", "newAlert") == []  # a company's, not hub-wide
    _, seen = await hub.get("/api/v1/alerts", hub.token(Role.ADMIN, "acme"))
    assert all(a.get("companyId") == "acme" for a in seen["active"] + seen["recent"])


async def test_an_admin_token_must_name_its_company(hub: HubHarness) -> None:
    token = mint(SECRET, sub="root", role=Role.ADMIN)
    async with (
        aiohttp.ClientSession() as http,
        http.get(hub.url + "/api/v1/alerts", headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        assert r.status == 401
        assert (await r.json())["code"] == "token_claims"
