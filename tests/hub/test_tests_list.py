"""GET /api/v1/tests: test prints are listed for the branch, newest first (issue 17, 5)."""

from __future__ import annotations

from typing import Any

from shared.tokens import Role
from tests.hub.test_printer_tests import PRINTER, _agent
from tests.support import HubHarness


async def _test(hub: HubHarness, printer_id: str, correlation: str) -> dict[str, Any]:
    status, body = await hub.post(
        f"/api/v1/printers/{printer_id}/test?correlationId={correlation}",
        {},
        token=hub.token(Role.MANAGER, "acme"),
    )
    assert status == 200, body
    return dict(body["result"])


async def test_tests_are_listed_per_branch_newest_first(hub: HubHarness) -> None:
    await _agent(hub, "agent-1", branch="b1")
    other = {**PRINTER, "printerId": "net:127.0.0.1:9101", "port": 9101, "name": "Bar"}
    await _agent(hub, "agent-2", branch="b2", success=False, printer=other)
    await _test(hub, PRINTER["printerId"], "corr-b1-first")
    await _test(hub, PRINTER["printerId"], "corr-b1-second")
    await _test(hub, other["printerId"], "corr-b2-only")

    status, body = await hub.get("/api/v1/tests", token=hub.token(Role.STAFF, "acme", "b1"))
    assert status == 200, body
    assert [t["correlationId"] for t in body["tests"]] == ["corr-b1-second", "corr-b1-first"]
    first = body["tests"][0]
    assert (first["state"], first["printerId"], first["durationMs"]) == (
        "printed",
        PRINTER["printerId"],
        12,
    )

    manager = hub.token(Role.MANAGER, "acme")
    _, everything = await hub.get("/api/v1/tests", token=manager)
    assert {t["correlationId"] for t in everything["tests"]} == {
        "corr-b1-first",
        "corr-b1-second",
        "corr-b2-only",
    }
    _, b2 = await hub.get("/api/v1/tests?branchId=b2&limit=5", token=manager)
    assert [(t["correlationId"], t["state"]) for t in b2["tests"]] == [("corr-b2-only", "failed")]
    # A branch-scoped caller asking for another branch still sees only its own.
    _, own = await hub.get("/api/v1/tests?branchId=b2", token=hub.token(Role.STAFF, "acme", "b1"))
    assert {t["correlationId"] for t in own["tests"]} == {"corr-b1-first", "corr-b1-second"}
    _, foreign = await hub.get("/api/v1/tests", token=hub.token(Role.MANAGER, "globex"))
    assert foreign["tests"] == []


async def test_bad_queries_are_refused_with_a_code(hub: HubHarness) -> None:
    manager = hub.token(Role.MANAGER, "acme")
    for query in ("limit=0", "limit=abc", "limit=101", "color=red"):
        status, body = await hub.get(f"/api/v1/tests?{query}", token=manager)
        assert (status, body["code"]) == (422, "invalid_query"), query
    status, _ = await hub.get("/api/v1/tests")
    assert status == 401
