"""Rings, promotions and update steps over REST and /printing-ws, answers as documented.

A real hub with a real TUF repository in its data dir; the agent is a scripted socket.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import cli
from shared.tokens import Role
from tests.hub.openapi_check import DocumentChecker
from tests.support import HubHarness
from tests.updates_support import make_build

NS = "/printing-ws"


class Api:
    """REST calls, each answer checked against the served OpenAPI document."""

    def __init__(self, hub: HubHarness, checker: DocumentChecker) -> None:
        self.hub, self.checker = hub, checker

    async def __call__(
        self, method: str, template: str, token: str, path: str | None = None, json: Any = None
    ) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.request(
                method,
                self.hub.url + (path or template),
                json=json,
                headers={"Authorization": f"Bearer {token}"},
            ) as resp,
        ):
            body = await resp.json()
        self.checker.check(method, template, resp.status, body, resp.content_type)
        return resp.status, body


@pytest.fixture
async def api(any_hub: HubHarness) -> Api:
    hub = any_hub
    status, doc = await hub.get("/api/v1/openapi.json")
    assert status == 200
    return Api(hub, DocumentChecker(doc))


def _release(hub: HubHarness, tmp: Path, *versions: str) -> None:
    """What an operator runs: keys offline, init, add (the real command line)."""
    keys, data = tmp / "offline", str(hub.data_dir)
    assert cli.main(["agent-release", "keys", "--out", str(keys)]) == 0
    init = ["agent-release", "init", "--data-dir", data]
    assert (
        cli.main(
            [
                *init,
                "--root-key",
                str(keys / "root.pem"),
                "--targets-key",
                str(keys / "targets.pem"),
            ]
        )
        == 0
    )
    for version in versions:
        archive = make_build(tmp / "dist", version)
        named = archive.with_name(f"chit-agent-{version}-linux-x86_64.tar.gz")
        archive.rename(named)
        add = ["agent-release", "add", str(named), "--data-dir", data]
        assert cli.main([*add, "--targets-key", str(keys / "targets.pem")]) == 0


async def _agent(hub: HubHarness, agent_id: str = "agent-1", company: str = "acme") -> Any:
    recorder = await hub.connect(hub.token(Role.DESKTOP_APP, company, "b1", sub=agent_id), [NS])
    hello = {"agentId": agent_id, "hostname": "till", "os": "linux", "version": "1.0.0"}
    assert (await recorder.call(NS, "agent:hello", hello))["ok"]
    return recorder


async def test_the_command_line_keeps_the_root_key_out_of_the_hub(
    hub: HubHarness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _release(hub, tmp_path, "1.1.0")
    repo = hub.data_dir / "agent-releases"
    assert sorted(p.name for p in (repo / "online-keys").iterdir()) == [
        "snapshot.pem",
        "timestamp.pem",
    ]
    assert not list(repo.rglob("root.pem")) and not list(repo.rglob("targets.pem"))
    assert (tmp_path / "offline" / "root.pem").stat().st_mode & 0o077 == 0
    capsys.readouterr()
    assert cli.main(["agent-release", "list", "--data-dir", str(hub.data_dir)]) == 0
    assert capsys.readouterr().out.startswith("1.1.0\tlinux-x86_64\t")
    # A build signed with any other key, the same version twice: refused with one line.
    other = tmp_path / "other"
    assert cli.main(["agent-release", "keys", "--out", str(other)]) == 0
    archive = make_build(tmp_path / "dist2", "1.2.0")
    add = ["agent-release", "add", str(archive), "--data-dir", str(hub.data_dir)]
    assert (
        cli.main(
            [
                *add,
                "--platform",
                "linux-x86_64",
                "--version",
                "1.2.0",
                "--targets-key",
                str(other / "targets.pem"),
            ]
        )
        == 2
    )
    assert "not this repository's targets key" in capsys.readouterr().err
    assert cli.main(["agent-release", "keys", "--out", str(other)]) == 2  # never overwritten


async def test_an_operator_promotes_ring_by_ring_and_the_ring_is_told(
    any_hub: HubHarness, api: Api, tmp_path: Path
) -> None:
    hub = any_hub
    _release(hub, tmp_path, "1.1.0", "1.2.0")
    operator = hub.token(Role.OPERATOR, None)
    manager = hub.token(Role.MANAGER, "acme")
    agent = await _agent(hub)
    status, releases = await api("GET", "/api/v1/agent-releases", operator)
    assert status == 200 and [b["version"] for b in releases["builds"]] == ["1.1.0", "1.2.0"]
    assert releases["rings"] == []
    ring = "/api/v1/agent-releases/rings/{ring}"
    status, _ = await api("PUT", ring, manager, ring.format(ring="canary"), {"version": "1.1.0"})
    assert status == 403  # only operators promote
    status, body = await api(
        "PUT", ring, operator, ring.format(ring="canary"), {"version": "9.9.9"}
    )
    assert status == 404 and body["code"] == "unknown_version"
    status, _ = await api("PUT", ring, operator, ring.format(ring="nightly"), {"version": "1.1.0"})
    assert status == 422
    # Canary first: the agent (stable by default) hears nothing and is told nothing to do.
    assert (await api("PUT", ring, operator, ring.format(ring="canary"), {"version": "1.2.0"}))[
        0
    ] == 200
    check = {"agentId": "agent-1", "version": "1.0.0"}
    assert await agent.call(NS, "agent:update:check", check) == {
        "ok": True,
        "ring": "stable",
        "version": None,
    }
    assert agent.events(NS, "agent:update") == []
    status, _ = await api("PUT", ring, operator, ring.format(ring="stable"), {"version": "1.1.0"})
    assert status == 200
    [offer] = await agent.wait_for(NS, "agent:update")
    assert offer == {"ring": "stable", "version": "1.1.0"}
    assert (await agent.call(NS, "agent:update:check", check))["version"] == "1.1.0"
    # The company moves to canary: its agents are told the canary version.
    assert (await api("PUT", "/api/v1/update-ring", manager, json={"ring": "canary"}))[0] == 200
    assert (await agent.wait_for(NS, "agent:update", count=2))[-1]["version"] == "1.2.0"
    status, releases = await api("GET", "/api/v1/agent-releases", operator)
    assert {r["ring"]: r["version"] for r in releases["rings"]} == {
        "canary": "1.2.0",
        "stable": "1.1.0",
    }


async def test_rings_per_agent_are_tenancy_checked_and_steps_are_kept(
    any_hub: HubHarness, api: Api, tmp_path: Path
) -> None:
    hub = any_hub
    _release(hub, tmp_path, "1.1.0")
    operator, manager = hub.token(Role.OPERATOR, None), hub.token(Role.MANAGER, "acme")
    other = hub.token(Role.MANAGER, "globex")
    staff = hub.token(Role.STAFF, "acme")
    await api(
        "PUT",
        "/api/v1/agent-releases/rings/{ring}",
        operator,
        "/api/v1/agent-releases/rings/early",
        {"version": "1.1.0"},
    )
    agent = await _agent(hub)
    template = "/api/v1/agents/{agent_id}/update-ring"
    path = template.format(agent_id="agent-1")
    status, body = await api("PUT", template, manager, path, {"ring": "early"})
    assert status == 200 and (body["ring"], body["ringSource"], body["targetVersion"]) == (
        "early",
        "agent",
        "1.1.0",
    )
    assert (await agent.wait_for(NS, "agent:update"))[-1]["version"] == "1.1.0"
    assert (await api("PUT", template, other, path, {"ring": "canary"}))[0] == 404
    assert (await api("PUT", template, staff, path, {"ring": "canary"}))[0] == 403
    for step in ("downloading", "verified", "installed"):
        report = {
            "agentId": "agent-1",
            "step": step,
            "version": "1.1.0",
            "fromVersion": "1.0.0",
            "at": "2026-12-01T12:00:00Z",
        }
        assert (await agent.call(NS, "agent:update:status", report))["ok"]
    refused = {
        "agentId": "agent-1",
        "step": "exploded",
        "version": "1.1.0",
        "at": "2026-12-01T12:00:00Z",
    }
    assert not (await agent.call(NS, "agent:update:status", refused))["ok"]
    spoof = {
        "agentId": "agent-2",
        "step": "confirmed",
        "version": "1.1.0",
        "at": "2026-12-01T12:00:00Z",
    }
    assert (await agent.call(NS, "agent:update:status", spoof))["error"]["code"] == "agent_mismatch"
    updates = "/api/v1/agents/{agent_id}/updates"
    status, body = await api("GET", updates, staff, updates.format(agent_id="agent-1"))
    assert status == 200 and [s["step"] for s in body["steps"]] == [
        "installed",
        "verified",
        "downloading",
    ]
    assert body["version"] == "1.0.0"
    assert (await api("GET", updates, other, updates.format(agent_id="agent-1")))[0] == 404
    # Back to the company's ring (stable: nothing promoted there).
    status, body = await api("PUT", template, manager, path, {"ring": None})
    assert (body["ring"], body["ringSource"], body["targetVersion"]) == ("stable", "default", None)
    assert (await api("GET", "/api/v1/update-ring", staff))[1] == {"ring": "stable"}


async def test_the_repository_is_served_read_only_and_nothing_outside_it(
    hub: HubHarness, tmp_path: Path
) -> None:
    _release(hub, tmp_path, "1.1.0")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(hub.url + "/agent-releases/metadata/timestamp.json") as resp:
            assert resp.status == 200 and (await resp.json())["signed"]["_type"] == "timestamp"
        for bad in (
            "metadata/../online-keys/timestamp.pem",
            "metadata/%2e%2e/online-keys/snapshot.pem",
            "keys/x",
            "targets/nothing",
        ):
            async with http.get(hub.url + "/agent-releases/" + bad) as resp:
                assert resp.status == 404, bad
