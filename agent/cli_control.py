"""The CLI through the agent service: ``status``, ``test-print``, ``discover``, ``pair``, ``logs``.

When the core runs as a service, a command must not start a second core beside it (it would
open the same USB printers, and a token paired into the user's own config would not be the
service's). So each command first tries the control API; :func:`with_service` returns None when
no service answers, and the caller does what it did before services existed. A service that
refuses this user is an error with a hint, never a silent second core.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from agent import settings as store
from agent.cli_printers import print_printers, result_text, status_text
from agent.control import address, control_group
from agent.control.client import ControlClient, ControlError, ServiceNotRunning, ServiceRefused
from agent.settings import AgentSettings
from shared.printers import PrinterInfo

#: ``chit-agent status`` exit codes (systemctl's: 3 is "not running").
NOT_RUNNING = 3
REFUSED = 4

Command = Callable[[ControlClient], Awaitable[int]]


async def with_service(settings: AgentSettings, command: Command) -> int | None:
    """Run ``command`` against the service; None when no service runs (fall back)."""
    try:
        client = await ControlClient(address(settings)).connect()
    except ServiceNotRunning:
        return None
    except ServiceRefused as exc:
        print(
            f"error: the agent service runs but will not serve this user: {exc}\n"
            f"hint: add the user to the group "
            f"{control_group(settings.control_group, address(settings))!r} "
            "(then log in again), or run the command as root or an administrator",
            file=sys.stderr,
        )
        return REFUSED
    try:
        return await command(client)
    except ControlError as exc:
        print(f"error: {exc.message} [{exc.code}]", file=sys.stderr)
        return 2 if exc.code in ("unknown_printer", "invalid_params") else 1
    finally:
        await client.close()


def _printers(result: dict[str, Any]) -> list[PrinterInfo]:
    return [PrinterInfo.model_validate(p) for p in result.get("printers", [])]


def _status_lines(status: dict[str, Any], where: str) -> list[str]:
    link = status.get("link") or {}
    state = link.get("state") or ("no hub configured" if not status.get("hubUrl") else "unknown")
    detail = f" ({link['detail']})" if link.get("detail") else ""
    lines = [
        f"agent service: running (pid {status.get('pid')}, version {status.get('version')}, "
        f"since {status.get('startedAt')}) at {where}",
        f"agent id: {status.get('agentId') or '-'}",
        f"hub: {status.get('hubUrl') or 'not set'} - {state}{detail}",
        f"paired: {'yes' if status.get('paired') else 'no'}",
    ]
    printers = _printers(status)
    lines.append(f"printers: {len(printers)}")
    for p in sorted(printers, key=lambda p: p.name.lower()):
        state_text = status_text(p)
        lines.append(f"  {p.name}  [{p.printer_id}]  {state_text}")
    return lines


async def status(settings: AgentSettings, as_json: bool) -> int:
    """``chit-agent status``: the service's state; 3 when no service runs."""
    where = address(settings)

    async def show(client: ControlClient) -> int:
        result = await client.call("status")
        print(json.dumps(result, indent=2) if as_json else "\n".join(_status_lines(result, where)))
        return 0

    code = await with_service(settings, show)
    if code is not None:
        return code
    token = "set" if store.read_token() else "not set"
    if as_json:
        print(json.dumps({"running": False, "address": where, "agentId": settings.agent_id,
                          "hubUrl": settings.hub_url, "token": token}, indent=2))  # fmt: skip
    else:
        print(f"agent service: not running (nothing answers at {where})")
        print(f"this user's settings: agent id {settings.agent_id}, "
              f"hub {settings.hub_url or 'not set'}, token {token}")  # fmt: skip
    return NOT_RUNNING


async def test_print(settings: AgentSettings, target: str, as_json: bool) -> int | None:
    """``chit-agent test-print`` through the service (None: no service)."""

    async def run(client: ControlClient) -> int:
        result = await client.call("test_print", {"printer": target})
        known = {p.printer_id: p.name for p in _printers(await client.call("printers"))}
        name = known.get(result["printerId"], result["printerId"])
        print(json.dumps(result, indent=2) if as_json else result_text(result, name))
        return 0 if result["success"] else 1

    return await with_service(settings, run)


async def set_channel(settings: AgentSettings, printer_id: str, channel: str) -> int | None:
    """``chit-agent printers channel`` through the service (None: no service)."""

    async def run(client: ControlClient) -> int:
        result = await client.call("printer.channel", {"printer": printer_id, "channel": channel})
        printer = PrinterInfo.model_validate(result["printer"])
        chosen = printer.status_channel or "not known yet"
        print(f"{printer.printer_id}: status channel {chosen}; {status_text(printer)}")
        return 0

    return await with_service(settings, run)


async def discover(settings: AgentSettings, as_json: bool) -> int | None:
    """``chit-agent discover`` through the service: it scans, we list (None: no service)."""

    async def run(client: ControlClient) -> int:
        scan = await client.call("scan")
        printers = _printers(await client.call("printers"))
        print_printers(printers, as_json, scan.get("errors", {}))
        return 0

    return await with_service(settings, run)


async def pair(settings: AgentSettings, code: str, hub_url: str | None) -> int | None:
    """``chit-agent pair`` through the service: the service keeps the token (None: no service)."""

    async def run(client: ControlClient) -> int:
        params = {"code": code, **({"hubUrl": hub_url} if hub_url else {})}
        try:
            paired = await client.call("pair", params)
        except ControlError as exc:
            if exc.code != "pairing_failed":
                raise
            print(f"pairing failed: {exc.message}", file=sys.stderr)
            return 1
        print(f"paired the agent service as {paired['agentId']} with {paired['hubUrl']} "
              f"(company {paired['companyId']}, branch {paired['branchId']})")  # fmt: skip
        return 0

    return await with_service(settings, run)


async def logs(settings: AgentSettings, lines: int) -> int:
    """``chit-agent logs``: the service's recent lines, else the end of this user's log file."""

    async def run(client: ControlClient) -> int:
        for line in (await client.call("logs", {"lines": lines}))["lines"]:
            print(line)
        return 0

    code = await with_service(settings, run)
    if code is not None:
        return code
    path = store.log_dir() / "chit-agent.log"
    if not path.exists():
        print(f"no agent service, and no log at {path}", file=sys.stderr)
        return 1
    text = await asyncio.to_thread(path.read_text, errors="replace")
    for line in text.splitlines()[-lines:]:
        print(line)
    return 0
