"""Collect diagnostics from the hub: a real agent uploads a bounded, redacted bundle.

Every REST answer is checked against the served OpenAPI document.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.simulators.network import SimulatedNetworkPrinter
from shared.tokens import Role
from tests.e2e.support import (
    device_token,
    eventually,
    fast_settings,
    hub_agent,
    manual,
    running_agent,
)
from tests.hub.test_openapi_responses import Caller, _document
from tests.support import HubHarness

COLLECT = "/api/v1/agents/{agent_id}/diagnostics"
ONE = "/api/v1/diagnostics/{diagnostics_id}"
BUNDLE = "/api/v1/diagnostics/{diagnostics_id}/bundle"
PASSWORD = "s3cret-hub-pass"
LOGGED_PASSWORD = "hunter2-in-a-log"


@pytest.fixture
async def printer() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter(name="Kitchen") as sim:
        yield sim


async def _ready(call: Caller, manager: str, diagnostics_id: str) -> dict[str, Any]:
    path = ONE.format(diagnostics_id=diagnostics_id)
    states: list[str] = []

    async def poll() -> dict[str, Any] | None:
        status, body, _ = await call("GET", ONE, path, token=manager)
        assert status == 200, body
        states.append(body["state"])
        return body if body["state"] != "requested" else None

    async def wait() -> dict[str, Any]:
        while (body := await poll()) is None:
            pass
        return body

    async with asyncio.timeout(30):
        return await wait()


async def test_a_manager_collects_a_redacted_bundle(
    hub: HubHarness,
    printer: SimulatedNetworkPrinter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    code = "ABCD-EFGH-JKMN-PQRS"
    preseed = tmp_path / "enroll.toml"
    preseed.write_text(f'hub = "{hub.url}"\ncode = "{code}"\n')
    monkeypatch.setenv("CHIT_AGENT_PRESEED", str(preseed))
    token = device_token(hub)
    # The second hub is only a fallback; its password must never show in a bundle.
    hub_url = f"{hub.url},http://support:{PASSWORD}@127.0.0.1:9"
    settings = fast_settings(hub_url=hub_url, manual_printers=(manual(printer),))
    call = Caller(hub, await _document(hub))
    manager = hub.token(Role.MANAGER, "acme")
    async with running_agent(settings, token) as agent:
        await eventually(lambda: hub_agent(hub) and agent.link and agent.link.registered, 20)
        await eventually(
            lambda: agent.coordinators and all(c.status_bytes for c in agent.coordinators.values())
        )
        noisy = logging.getLogger("chit.agent.test")
        noisy.warning("oops, a token in a log line: %s", token)
        noisy.warning(
            "config dump password=%s", LOGGED_PASSWORD, extra={"authorization": f"Bearer {token}"}
        )
        noisy.warning("enrolling", extra={"enroll_code": code, "printer_id": printer.printer_id})
        status, asked, _ = await call(
            "POST", COLLECT, COLLECT.format(agent_id="agent-e2e"), token=manager
        )
        assert status == 202 and asked["state"] == "requested", asked
        done = await _ready(call, manager, asked["diagnosticsId"])
        assert done["state"] == "ready" and done["sizeBytes"] > 0, done
        path = BUNDLE.format(diagnostics_id=asked["diagnosticsId"])
        status, body, response = await call("GET", BUNDLE, path, token=manager)
    assert status == 200
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="chit-diagnostics-agent-e2e-'
    )
    text = json.dumps(body)
    signature = token.rsplit(".", 1)[1]
    for secret in (token, signature, PASSWORD, LOGGED_PASSWORD, code, code.replace("-", "")):
        assert secret not in text, f"{secret[:12]}... leaked into the bundle"
    bundle = body["bundle"]
    assert bundle["agentId"] == "agent-e2e" and bundle["version"] and bundle["os"]
    assert "[redacted]@127.0.0.1:9" in bundle["settings"]["hub_url"]
    messages = [line["msg"] for line in bundle["logs"]]
    assert "printer status" in messages  # the agent's own lines, with their fields:
    ours = [line for line in bundle["logs"] if line["msg"] == "printer status"]
    assert printer.printer_id in {line["fields"].get("printer_id") for line in ours}
    (kept,) = bundle["printers"]
    assert kept["printer"]["printerId"] == printer.printer_id
    assert len(kept["statusBytes"]) == 4 and all(isinstance(b, int) for b in kept["statusBytes"])
    assert {t["source"] for t in bundle["discovery"]} >= {"manual"}
    assert bundle["link"]["state"] == "connected"
    assert bundle["usbError"] and bundle["queuesError"]  # off in these settings, and it says so


async def test_diagnostics_are_the_callers_own(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    call = Caller(hub, await _document(hub))
    acme = hub.token(Role.MANAGER, "acme")
    path = COLLECT.format(agent_id="agent-e2e")
    async with running_agent(settings, device_token(hub)) as agent:
        await eventually(lambda: agent.link and agent.link.registered, 20)
        await hub.provision("globex", "g1")
        for caller in (hub.token(Role.MANAGER, "globex"), hub.token(Role.ADMIN, "globex")):
            assert (await call("POST", COLLECT, path, token=caller))[0] == 404
        assert (await call("POST", COLLECT, path, token=hub.token(Role.STAFF, "acme", "b1")))[
            0
        ] == 403
        assert (await call("POST", COLLECT, path, token=hub.token(Role.SERVICE, "acme")))[0] == 403
        assert (await call("POST", COLLECT, path, token=hub.token(Role.MANAGER, "acme", "b2")))[
            0
        ] == 404
        unknown = COLLECT.format(agent_id="agent-nobody")
        assert (await call("POST", COLLECT, unknown, token=acme))[0] == 404
        _, asked, _ = await call("POST", COLLECT, path, token=acme)
        await _ready(call, acme, asked["diagnosticsId"])
        ids = {"diagnostics_id": asked["diagnosticsId"]}
        globex = hub.token(Role.MANAGER, "globex")
        for template in (ONE, BUNDLE):
            status, answer, _ = await call("GET", template, template.format(**ids), token=globex)
            assert (status, answer["code"]) == (404, "not_found")
        status, listed, _ = await call("GET", COLLECT, path, token=acme)
        assert [d["diagnosticsId"] for d in listed["diagnostics"]] == [asked["diagnosticsId"]]
        assert (await call("GET", COLLECT, path, token=globex))[0] == 404
    # Offline now: the request says so instead of waiting.
    await eventually(lambda: hub_agent(hub) is None)
    status, answer, _ = await call("POST", COLLECT, path, token=acme)
    assert (status, answer["code"]) == (409, "agent_offline")


async def test_an_agent_cannot_upload_what_nobody_asked_for(hub: HubHarness) -> None:
    agent = await hub.connect(
        hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-x"), ["/printing-ws"]
    )
    hello = {"agentId": "agent-x", "hostname": "pc", "os": "linux", "version": "0.1.0"}
    assert (await agent.call("/printing-ws", "agent:hello", hello))["ok"]
    upload = {
        "diagnosticsId": "d-made-up",
        "agentId": "agent-x",
        "error": {"code": "diagnostics_failed", "message": "y"},
    }
    ack = await agent.call("/printing-ws", "agent:diagnostics:bundle", upload)
    assert ack["ok"] is False and ack["error"]["code"] == "unknown_diagnostics"


async def test_a_second_click_joins_the_collection_under_way(hub: HubHarness) -> None:
    # A silent agent: it hears agent:diagnostics and never answers.
    agent = await hub.connect(
        hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-s"), ["/printing-ws"]
    )
    hello = {"agentId": "agent-s", "hostname": "pc", "os": "linux", "version": "0.1.0"}
    assert (await agent.call("/printing-ws", "agent:hello", hello))["ok"]
    call = Caller(hub, await _document(hub))
    acme = hub.token(Role.MANAGER, "acme")
    path = COLLECT.format(agent_id="agent-s")
    _, first, _ = await call("POST", COLLECT, path, token=acme)
    _, second, _ = await call("POST", COLLECT, path, token=acme)
    assert second["diagnosticsId"] == first["diagnosticsId"]
    (asked,) = await agent.wait_for("/printing-ws", "agent:diagnostics")
    assert asked == {"diagnosticsId": first["diagnosticsId"], "requestedBy": "manager-user"}


async def test_no_other_agent_can_answer_for_it(hub: HubHarness) -> None:
    ns = "/printing-ws"
    target = await hub.connect(hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-t"), [ns])
    hello = {"agentId": "agent-t", "hostname": "pc", "os": "linux", "version": "0.1.0"}
    assert (await target.call(ns, "agent:hello", hello))["ok"]
    acme = hub.token(Role.MANAGER, "acme")
    status, asked = await hub.post(COLLECT.format(agent_id="agent-t"), {}, acme)
    assert status == 202, asked
    forged = {"code": "diagnostics_failed", "message": "nothing to see"}
    for company, branch, sub in (("acme", "b1", "agent-u"), ("globex", "g1", "agent-g")):
        other = await hub.connect(hub.token(Role.DESKTOP_APP, company, branch, sub=sub), [ns])
        hello = {"agentId": sub, "hostname": "pc", "os": "linux", "version": "0.1.0"}
        assert (await other.call(ns, "agent:hello", hello))["ok"]
        # Under its own id: not its request. Under the target's id: not its identity.
        for agent_id, code in ((sub, "unknown_diagnostics"), ("agent-t", "agent_mismatch")):
            upload = {"diagnosticsId": asked["diagnosticsId"], "agentId": agent_id, "error": forged}
            ack = await other.call(ns, "agent:diagnostics:bundle", upload)
            assert (ack["ok"], ack["error"]["code"]) == (False, code)
    status, state = await hub.get(ONE.format(diagnostics_id=asked["diagnosticsId"]), acme)
    assert (status, state["state"], state["error"]) == (200, "requested", None)
