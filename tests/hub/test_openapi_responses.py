"""Every route's real answers are the ones the served OpenAPI document describes.

Each operation is called with valid input on a running hub (with a scripted agent socket for
the printer routes), and its status and body are checked against the document; so are the
errors every route shares (400, 405, 413, 415, 422).
"""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from hub.store import tenants, users
from shared.tokens import Role
from tests.hub.openapi_check import DocumentChecker
from tests.support import HubHarness

NS = "/printing-ws"
PRINTER = {
    "printerId": "net:127.0.0.1:9100",
    "name": "Kitchen",
    "connection": "network",
    "source": "manual",
    "host": "127.0.0.1",
    "port": 9100,
}


class Caller:
    """Calls the hub and checks every answer against the document."""

    def __init__(self, hub: HubHarness, checker: DocumentChecker) -> None:
        self.hub, self.checker = hub, checker
        self.seen: set[tuple[str, str, int]] = set()

    async def __call__(
        self,
        method: str,
        template: str,
        path: str | None = None,
        token: str | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.request(
                method, self.hub.url + (path or template), json=json, data=data, headers=hdrs
            ) as resp,
        ):
            media = resp.content_type
            body = await (resp.json() if media == "application/json" else resp.text())
        self.checker.check(method, template, resp.status, body, media)
        self.seen.add((method.lower(), template, resp.status))
        return resp.status, body, resp


async def _document(hub: HubHarness) -> DocumentChecker:
    status, doc = await hub.get("/api/v1/openapi.json")
    assert status == 200
    return DocumentChecker(doc)


async def _agent(hub: HubHarness) -> None:
    agent = await hub.connect(hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-1"), [NS])
    hello = {"agentId": "agent-1", "hostname": "pc-1", "os": "linux", "version": "0.1.0"}
    assert (await agent.call(NS, "agent:hello", hello))["ok"]
    assert (await agent.call(NS, "agent:inventory", {"agentId": "agent-1", "printers": [PRINTER]}))[
        "ok"
    ]
    status = {"state": "online", "online": True}
    update = {"agentId": "agent-1", "printerId": PRINTER["printerId"], "status": status}
    assert (await agent.call(NS, "printerStatusUpdate", update))["ok"]

    async def on_test(data: dict[str, Any]) -> None:
        result = {
            "correlationId": data["correlationId"],
            "printerId": data["printerId"],
            "agentId": "agent-1",
            "success": True,
            "durationMs": 12,
            "status": status,
        }
        await agent.client.emit("printer:test:result", result, namespace=NS)

    agent.client.on("printer:test", on_test, namespace=NS)


async def _user(hub: HubHarness) -> None:
    async with hub.ctx.db.session() as s:
        await tenants.ensure_company(s, "acme")
        await users.create_user(s, "mia", "first-password-1", "manager", "acme")


async def test_every_operation_answers_as_documented(any_hub: HubHarness) -> None:
    hub = any_hub
    call = Caller(hub, await _document(hub))
    manager, admin = hub.token(Role.MANAGER, "acme"), hub.token(Role.ADMIN, "acme")
    service = hub.token(Role.SERVICE, None)
    await call("GET", "/healthz")
    await call("GET", "/readyz")
    await call("GET", "/metrics")
    await call("GET", "/api/v1/openapi.json")
    await call("GET", "/api/v1/connections", token=admin)
    await call("GET", "/api/v1/alerts", token=manager)
    await call("GET", "/api/v1/me", token=manager)

    status, *_ = await call("POST", "/api/v1/branches", token=manager, json={"branchId": "b5"})
    assert status == 201
    await call("GET", "/api/v1/branches", token=manager)
    status, code, _ = await call(
        "POST", "/api/v1/pairing-codes", token=manager, json={"branchId": "b1"}
    )
    assert status == 201
    redeem = {"code": code["code"], "agentId": "agent-5", "hostname": "till"}
    assert (await call("POST", "/api/v1/pairing/redeem", json=redeem))[0] == 200

    await _user(hub)
    login = {"username": "mia", "password": "first-password-1"}
    status, session, _ = await call("POST", "/api/v1/auth/login", json=login)
    assert status == 200
    change = {"currentPassword": "first-password-1", "newPassword": "second-password-2"}
    assert (await call("POST", "/api/v1/me/password", token=session["token"], json=change))[
        0
    ] == 200

    await _agent(hub)
    await call("GET", "/api/v1/agents", token=manager)
    await call("GET", "/api/v1/printers", token=manager)
    detail = "/api/v1/printers/{printer_id}"
    printer = f"/api/v1/printers/{PRINTER['printerId']}"
    assert (await call("GET", detail, printer, token=manager))[0] == 200
    rename = {"name": "Grill", "profile": "TM-T20II", "paperWidthMm": 80, "textMode": "auto"}
    status, configured, _ = await call("PATCH", detail, printer, token=manager, json=rename)
    assert status == 200 and configured["settings"]["name"] == "Grill"
    assert (await call("PATCH", detail, printer, token=manager, json={"paperWidthMm": 57}))[
        0
    ] == 422
    assert (await call("PATCH", detail, "/api/v1/printers/nope", token=manager, json=rename))[
        0
    ] == 404
    status, answer, _ = await call(
        "POST", detail + "/test", printer + "/test?correlationId=corr-doc-0001", token=manager
    )
    assert status == 200 and set(answer) == {"correlationId", "result"}
    status, *_ = await call(
        "GET", "/api/v1/tests/{correlation_id}", "/api/v1/tests/corr-doc-0001", token=manager
    )
    assert status == 200

    raw = base64.b64encode(b"\x1b@hello\n").decode()
    job = {"printerId": PRINTER["printerId"], "raw": raw, "idempotencyKey": "doc-1"}
    status, created, _ = await call("POST", "/api/v1/jobs", token=manager, json=job)
    assert status == 201
    assert (await call("POST", "/api/v1/jobs", token=manager, json=job))[0] == 200
    await call("GET", "/api/v1/jobs", "/api/v1/jobs?limit=5&state=queued", token=manager)
    one = f"/api/v1/jobs/{created['jobId']}"
    assert (await call("GET", "/api/v1/jobs/{job_id}", one, token=manager))[0] == 200

    order = {"correlationId": "corr-order-01", "orderId": "o1", "status": "new"}
    publish = {"namespace": "/orders", "event": "newOrder", "companyId": "acme", "payload": order}
    assert (await call("POST", "/api/v1/events", token=service, json=publish))[0] == 202

    revoke = "/api/v1/agents/{agent_id}/revoke"
    assert (await call("POST", revoke, "/api/v1/agents/agent-5/revoke", token=manager))[0] == 200


@pytest.mark.parametrize(
    ("headers", "data", "status", "code"),
    [
        ({"Content-Type": "application/json"}, b"{not json", 400, "invalid_json"),
        ({"Content-Type": "application/json"}, b"[" * 3000, 400, "invalid_json"),
        ({"Content-Type": "text/plain"}, b"{}", 415, "unsupported_media_type"),
        ({"Content-Type": "application/json"}, b" " * (2 * 1024 * 1024), 413, "body_too_large"),
        ({"Content-Type": "application/json"}, b'{"branchId": "a b"}', 422, "invalid_payload"),
    ],
)
async def test_body_errors_are_documented_json(
    hub: HubHarness, headers: dict[str, str], data: bytes, status: int, code: str
) -> None:
    call = Caller(hub, await _document(hub))
    token = hub.token(Role.MANAGER, "acme")
    got, body, _ = await call("POST", "/api/v1/branches", token=token, data=data, headers=headers)
    assert (got, body["code"]) == (status, code)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/v1/branches", {"GET", "POST"}),
        ("PUT", "/api/v1/jobs/j1", {"GET"}),
        ("GET", "/api/v1/events", {"POST"}),
        ("PATCH", "/healthz", {"GET"}),
        ("POST", "/api/v1/printers/p1", {"GET", "PATCH"}),
    ],
)
async def test_wrong_method_is_405_with_allow(
    hub: HubHarness, method: str, path: str, allow: set[str]
) -> None:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.request(method, hub.url + path) as resp,
    ):
        body = await resp.json()
        assert resp.status == 405
        assert set(resp.headers["Allow"].split(",")) - {"HEAD"} == allow
        assert body["code"] == "method_not_allowed"
        assert set(body) == {"code", "message"}


async def test_printer_test_is_documented_as_an_envelope(hub: HubHarness) -> None:
    _, doc = await hub.get("/api/v1/openapi.json")
    answer = doc["paths"]["/api/v1/printers/{printer_id}/test"]["post"]["responses"]["200"]
    ref = answer["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(schema["required"]) == {"correlationId", "result"}


async def test_every_operation_documents_its_shared_errors(hub: HubHarness) -> None:
    _, doc = await hub.get("/api/v1/openapi.json")
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            if "requestBody" in operation:
                assert {"400", "408", "413", "415", "422"} <= statuses, (method, path)
            if operation["parameters"]:
                assert "422" in statuses, (method, path)
            if operation.get("security") != []:
                assert {"401", "403"} <= statuses, (method, path)
