"""The fleet: every agent of the company with branch, OS, version, ring, state and printers,
filtered by branch, version, state and ring. Answers are checked against the OpenAPI document."""

from __future__ import annotations

from shared.tokens import Role
from tests.e2e.support import eventually
from tests.hub.test_openapi_responses import Caller, _document
from tests.support import HubHarness, Recorder

NS = "/printing-ws"
AGENTS = "/api/v1/agents"


async def _agent(hub: HubHarness, agent_id: str, branch: str, version: str) -> Recorder:
    client = await hub.connect(hub.token(Role.DESKTOP_APP, "acme", branch, sub=agent_id), [NS])
    hello = {
        "agentId": agent_id,
        "hostname": f"pc-{agent_id}",
        "os": "Linux 6.1",
        "version": version,
    }
    assert (await client.call(NS, "agent:hello", hello))["ok"]
    printer = {
        "printerId": f"net:10.0.0.{len(agent_id)}:9100",
        "name": "Kitchen",
        "connection": "network",
        "source": "manual",
        "status": {"state": "paper_out", "online": True, "paperOut": True},
    }
    assert (await client.call(NS, "agent:inventory", {"agentId": agent_id, "printers": [printer]}))[
        "ok"
    ]
    return client


async def test_the_fleet_lists_and_filters_the_companys_agents(hub: HubHarness) -> None:
    call = Caller(hub, await _document(hub))
    manager = hub.token(Role.MANAGER, "acme")
    await _agent(hub, "till-a", "b1", "1.2.0")
    await _agent(hub, "till-bb", "b2", "1.3.0")
    gone = await _agent(hub, "till-ccc", "b2", "1.2.0")
    await gone.close()
    await eventually(lambda: not hub.ctx.printing.registry.agent("acme", "till-ccc").online)  # type: ignore[union-attr]
    # Another company's agent is never in acme's fleet.
    other = await hub.connect(hub.token(Role.DESKTOP_APP, "globex", "g1", sub="till-g"), [NS])
    hello = {"agentId": "till-g", "hostname": "g", "os": "Linux", "version": "1.2.0"}
    assert (await other.call(NS, "agent:hello", hello))["ok"]

    async def ids(query: str = "") -> list[str]:
        status, body, _ = await call("GET", AGENTS, AGENTS + query, token=manager)
        assert status == 200, body
        return [a["agentId"] for a in body["agents"]]

    _, body, _ = await call("GET", AGENTS, token=manager)
    first = next(a for a in body["agents"] if a["agentId"] == "till-a")
    assert (first["branchId"], first["os"], first["version"]) == ("b1", "Linux 6.1", "1.2.0")
    assert (first["state"], first["ring"]) == ("online", "stable")
    assert first["printers"][0]["status"]["state"] == "paper_out"
    assert await ids() == ["till-a", "till-bb", "till-ccc"]
    assert await ids("?version=1.2.0") == ["till-a", "till-ccc"]
    assert await ids("?state=offline") == ["till-ccc"]
    assert await ids("?branchId=b2&state=online") == ["till-bb"]
    assert await ids("?ring=stable&version=1.3.0") == ["till-bb"]
    assert await ids("?ring=canary") == []
    status, answer, _ = await call("GET", AGENTS, AGENTS + "?state=sleeping", token=manager)
    assert (status, answer["field"]) == (422, "state")
    # A branch manager's fleet is its branch, whatever it asks for.
    branch = hub.token(Role.MANAGER, "acme", "b1")
    status, body, _ = await call("GET", AGENTS, AGENTS + "?branchId=b2", token=branch)
    assert [a["agentId"] for a in body["agents"]] == ["till-a"]
