"""The installers' smoke test driver (the Windows and macOS workflows, and tests here).

``serve`` runs a hub and a simulated receipt printer on loopback and writes what an installed
agent needs into a JSON file (the hub's URL, a pairing code, the printer's address, a manager
token); ``check`` waits until an agent is online at that hub with the printer, asks for a
test page and fails unless it printed. Between the two the workflow installs the package
silently, pairs the service's agent and lets the service run.

    python scripts/installer_smoke.py serve --state smoke.json &
    python scripts/installer_smoke.py check --state smoke.json --version 0.1.0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from agent.simulators.network import SimulatedNetworkPrinter
from hub.runner import start_hub
from hub.settings import Settings
from hub.store import tenants
from shared.tokens import Role, mint

COMPANY, BRANCH = "smoke-co", "smoke-branch"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=15)


async def _post(url: str, token: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
        http.post(url, json=body or {}, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def _get(url: str, token: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
        http.get(url, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def serve(state: Path, seconds: float) -> int:
    """Hub + printer until SIGTERM/SIGINT or ``seconds``; the state file says how to reach them."""
    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="chit-smoke-") as data:
        settings = Settings(host="127.0.0.1", port=0, data_dir=Path(data), jwt_secret=secret)
        hub = await start_hub(settings)
        try:
            async with hub.ctx.db.session() as session:
                await tenants.ensure_branch(session, BRANCH, COMPANY, "Smoke test")
            manager = mint(secret, sub="smoke-manager", role=Role.MANAGER, company_id=COMPANY)
            status, body = await _post(
                f"{hub.url}/api/v1/pairing-codes", manager, {"branchId": BRANCH}
            )
            if status != 201:
                print(f"error: no pairing code ({status}): {body}", file=sys.stderr)
                return 1
            async with SimulatedNetworkPrinter(name="Smoke") as printer:
                info = {
                    "hubUrl": hub.url,
                    "pairingCode": body["code"],
                    "printer": f"Smoke=127.0.0.1:{printer.port}",
                    "printerId": printer.printer_id,
                    "managerToken": manager,
                }
                await asyncio.to_thread(state.write_text, json.dumps(info, indent=2))
                print(f"hub {hub.url}, printer {printer.printer_id}", flush=True)
                await _until_stopped(seconds)
                print(f"the printer got {printer.brain.cuts} page(s)", flush=True)
        finally:
            await hub.stop()
    return 0


async def _until_stopped(seconds: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _online_agent(info: dict[str, Any], deadline: float) -> dict[str, Any] | None:
    """The agent that is online with the smoke printer, once there is one."""
    while time.monotonic() < deadline:
        status, body = await _get(f"{info['hubUrl']}/api/v1/agents", info["managerToken"])
        for agent in body.get("agents", []) if status == 200 else []:
            printers = {p["printerId"] for p in agent["printers"]}
            if agent["online"] and info["printerId"] in printers:
                return dict(agent)
        await asyncio.sleep(1)
    return None


async def check(state: Path, version: str | None, timeout: float) -> int:
    """Exit 0 when an online agent (of ``version``) prints a test page on the printer."""
    info = json.loads(await asyncio.to_thread(state.read_text))
    agent = await _online_agent(info, time.monotonic() + timeout)
    if agent is None:
        print(
            f"error: no agent online with {info['printerId']} in {timeout:.0f} s", file=sys.stderr
        )
        return 1
    if version and agent["version"] != version:
        print(f"error: the agent runs {agent['version']}, not {version}", file=sys.stderr)
        return 1
    url = f"{info['hubUrl']}/api/v1/printers/{info['printerId']}/test?correlationId=smoke-0001"
    status, body = await _post(url, info["managerToken"])
    result = body.get("result", {}) if status == 200 else {}
    if not result.get("success"):
        print(f"error: the test page failed ({status}): {body}", file=sys.stderr)
        return 1
    print(f"agent {agent['agentId']} ({agent['os']}, {agent['version']}) printed a test page")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="run a hub and a simulated printer")
    serve_cmd.add_argument("--state", type=Path, required=True)
    serve_cmd.add_argument("--seconds", type=float, default=1800)
    check_cmd = sub.add_parser("check", help="an installed agent prints a test page")
    check_cmd.add_argument("--state", type=Path, required=True)
    check_cmd.add_argument("--version", help="the agent version expected")
    check_cmd.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return asyncio.run(serve(args.state, args.seconds))
    return asyncio.run(check(args.state, args.version, args.timeout))


if __name__ == "__main__":
    raise SystemExit(main())
