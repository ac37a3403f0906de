"""The official JavaScript client (npm socket.io-client, pinned) against the real hub."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from shared.tokens import Role
from tests.support import HubHarness

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "js" / "receive_event.mjs"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "socket.io-client").exists(),
    reason="needs node and `npm ci` (scripts/test.sh runs it)",
)


async def _node(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_js_client_connects_and_receives(hub: HubHarness) -> None:
    proc = await _node(hub.url, "/orders", hub.token(Role.MANAGER, "acme"), "newOrder")
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    assert line.strip() == b"connected"
    status, body = await hub.publish(
        "newOrder", {"correlationId": "corr-js-1", "orderId": "o1", "status": "new"}
    )
    assert status == 202
    out = json.loads(await asyncio.wait_for(proc.stdout.readline(), 15))
    assert out == {
        "event": "newOrder",
        "payload": {
            "correlationId": "corr-js-1",
            "orderId": "o1",
            "status": "new",
            "_offset": body["offset"],
        },
    }
    assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_js_client_sees_refusal_reason(hub: HubHarness) -> None:
    proc = await _node(hub.url, "/orders", hub.token(Role.DESKTOP_APP, "acme"), "newOrder")
    stdout, _ = await asyncio.wait_for(proc.communicate(), 15)
    out = json.loads(stdout.decode().strip().splitlines()[-1])
    assert out["data"]["code"] == "role_not_allowed"
