"""The control API's operations: what a local face may ask of the core, over an AgentHost.

Each operation takes the request's ``params`` (a JSON object) and returns a JSON-able result,
or raises ProtocolError with a code (``invalid_params``, ``unknown_printer``, ...). Printers and
results are the wire models' camelCase JSON, the same the hub gets; settings keep the names of
agent.json and ``chit-agent config``. Secrets never leave: the token is "set" or not.

Writable settings are those a local user may safely change for the whole PC: which printers to
know and how to reach them. The hub URL and the token change only by pairing (a code from the
manager UI is the authority); intervals, the control socket and its group only by the operator
in agent.json. Pairing keeps the configured hub unless the client is root or the service's own
user: any member of the control group may pair the service with a code, but not move it to a
hub of their own choosing.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from agent import __version__
from agent import settings as store
from agent.cli_printers import UnknownPrinter, resolve
from agent.control.protocol import SUPPORTED_VERSIONS, VERSION, ProtocolError
from agent.control.recent import MAX_LINES, RecentLogs
from agent.control.server import Handler, operator
from agent.discovery.manual import ManualEntryError, parse_address, split_name
from agent.host import AgentHost, NotReady
from agent.pairing import PairingFailed
from agent.service import Agent
from agent.settings import AgentSettings

WRITABLE = ("manual_printers", "subnets", "printer_paths", "mdns", "usb", "queues")
MAX_ITEMS = 256


def settings_view(settings: AgentSettings) -> dict[str, Any]:
    """The settings as JSON (agent.json's names); the token is not among them."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()}


def _text(params: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise ProtocolError("invalid_params", f"{name} is a non-empty string")
    return value.strip()


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise ProtocolError("invalid_params", f"{name} is a list of at most {MAX_ITEMS} strings")
    if not all(isinstance(v, str) and 0 < len(v) <= 500 for v in value):
        raise ProtocolError("invalid_params", f"{name} is a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _check_entry(name: str, entry: str) -> None:
    """Raise ValueError (or ManualEntryError) when a settings entry is malformed."""
    if name == "manual_printers":
        parse_address(split_name(entry)[1])
    elif name == "subnets":
        ipaddress.ip_network(entry, strict=False)
    elif entry.rpartition("=")[2] not in ("direct", "queue") or "=" not in entry:
        raise ValueError(f"{entry!r} is not PRINTER_ID=direct or PRINTER_ID=queue")


def checked_changes(changes: Any) -> dict[str, Any]:
    """Settings changes a client sent, validated; ProtocolError for anything else."""
    if not isinstance(changes, dict) or not changes:
        raise ProtocolError("invalid_params", "changes is a non-empty object of settings")
    for name in changes:
        if name not in WRITABLE:
            raise ProtocolError(
                "read_only_setting", f"{name!r} cannot be changed here (writable: {WRITABLE})"
            )
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name in ("mdns", "usb", "queues"):
            if not isinstance(value, bool):
                raise ProtocolError("invalid_params", f"{name} is true or false")
            checked[name] = value
            continue
        entries = _strings(name, value)
        for entry in entries:
            try:
                _check_entry(name, entry)
            except (ValueError, ManualEntryError) as exc:
                raise ProtocolError("invalid_params", f"{name}: {exc}") from None
        checked[name] = entries
    return checked


class Operations:
    """The operation table served by a ControlServer, over one AgentHost."""

    def __init__(self, host: AgentHost, recent: RecentLogs | None = None) -> None:
        self.host = host
        self.recent = recent
        self.started_at = datetime.now(UTC)

    def table(self) -> dict[str, Handler]:
        """Operation names to handlers."""
        return {
            "hello": self.hello,
            "status": self.status,
            "printers": self.printers,
            "test_print": self.test_print,
            "drawer": self.drawer,
            "buzz": self.buzz,
            "scan": self.scan,
            "printer.channel": self.printer_channel,
            "pair": self.pair,
            "settings.get": self.settings_get,
            "settings.set": self.settings_set,
            "logs": self.logs,
        }

    def _agent(self) -> Agent:
        try:
            return self.host.require()
        except NotReady as exc:
            raise ProtocolError("not_ready", str(exc)) from None

    async def hello(self, params: dict[str, Any]) -> dict[str, Any]:
        """The protocol versions and operations this core serves."""
        return {
            "protocol": VERSION,
            "versions": list(SUPPORTED_VERSIONS),
            "agentVersion": __version__,
            "ops": sorted(self.table()),
        }

    async def status(self, params: dict[str, Any]) -> dict[str, Any]:
        """Everything a face shows: identity, hub link, printers, settings."""
        agent = self.host.agent
        base = {
            "ready": agent is not None,
            "version": __version__,
            "pid": os.getpid(),
            "startedAt": self.started_at.isoformat(),
            "paired": self.host.paired,
        }
        if agent is None:
            return {**base, "agentId": "", "hubUrl": None, "link": None, "printers": []}
        link = agent.link
        return {
            **base,
            "agentId": agent.agent_id,
            "hubUrl": agent.settings.hub_url,
            "link": None if link is None else {"state": str(link.state), "detail": link.detail},
            "printers": [p.to_wire() for p in agent.printers()],
            "settings": settings_view(agent.settings),
        }

    async def printers(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every printer with its latest status."""
        return {"printers": [p.to_wire() for p in self._agent().printers()]}

    def _printer_id(self, params: dict[str, Any]) -> str:
        target = _text(params, "printer")
        assert target is not None
        try:
            return resolve(target, self._agent().printers())
        except UnknownPrinter as exc:
            raise ProtocolError("unknown_printer", str(exc)) from None

    async def test_print(self, params: dict[str, Any]) -> dict[str, Any]:
        """Print a test page on one printer (an id, a name, or an address the agent knows)."""
        printer_id = self._printer_id(params)
        return (await self.host.test_print(printer_id)).to_wire()

    async def drawer(self, params: dict[str, Any]) -> dict[str, Any]:
        """Open one printer's cash drawer."""
        printer_id = self._printer_id(params)
        return (await self.host.open_drawer(printer_id, requested_by="control")).to_wire()

    async def buzz(self, params: dict[str, Any]) -> dict[str, Any]:
        """Sound one printer's buzzer."""
        printer_id = self._printer_id(params)
        return (await self.host.buzz(printer_id, requested_by="control")).to_wire()

    async def printer_channel(self, params: dict[str, Any]) -> dict[str, Any]:
        """Set how a printer reports status (``channel``; ``auto``: detect it again)."""
        printer_id = self._printer_id(params)
        name = _text(params, "channel")
        assert name is not None
        try:
            channel = None if name.strip().lower() == "auto" else store.status_channel(name)
        except store.BadChannel as exc:
            raise ProtocolError("invalid_params", f"{exc}, or auto") from None
        printer = await self._agent().apply_status_channel(printer_id, channel)
        if printer is None:
            raise ProtocolError("unknown_printer", f"no printer {printer_id}")
        return {"printer": printer.to_wire()}

    async def scan(self, params: dict[str, Any]) -> dict[str, Any]:
        """Run discovery now: how many printers are known, and what could not be scanned."""
        self._agent()
        report = await self.host.scan()
        return {
            "printers": len(self._agent().coordinators),
            "errors": {str(k): v for k, v in report.errors.items()},
        }

    async def pair(self, params: dict[str, Any]) -> dict[str, Any]:
        """Redeem a pairing code (on the configured hub, or ``hubUrl``); the core restarts."""
        code = _text(params, "code")
        configured = self._agent().settings.hub_url
        hub_url = _text(params, "hubUrl", required=False) or configured
        if not hub_url:
            raise ProtocolError("invalid_params", "no hub URL is configured: give hubUrl")
        if configured and hub_url.rstrip("/") == configured.rstrip("/"):
            hub_url = configured
        elif configured and not operator.get():
            # A group member could otherwise hand the till to a hub of their own making.
            raise ProtocolError(
                "forbidden",
                f"only root or an administrator moves the agent service from {configured} "
                "to another hub",
            )
        assert code is not None
        try:
            paired = await self.host.pair(hub_url, code)
        except PairingFailed as exc:
            raise ProtocolError("pairing_failed", str(exc)) from None
        return {
            "agentId": paired.agent_id,
            "companyId": paired.company_id,
            "branchId": paired.branch_id,
            "hubUrl": hub_url,
        }

    async def settings_get(self, params: dict[str, Any]) -> dict[str, Any]:
        """The settings in effect, whether a token is stored, and what may be changed."""
        settings = self._agent().settings
        return {
            "settings": settings_view(settings),
            "tokenSet": store.read_token() is not None,
            "writable": list(WRITABLE),
        }

    async def settings_set(self, params: dict[str, Any]) -> dict[str, Any]:
        """Change writable settings in agent.json; the core restarts when it needs to."""
        changes = checked_changes(params.get("changes"))
        restarted = await self.host.apply(changes)
        return {"restarted": restarted, "settings": settings_view(self._agent().settings)}

    async def logs(self, params: dict[str, Any]) -> dict[str, Any]:
        """The last ``lines`` log lines (default 100, at most 500)."""
        count = params.get("lines", 100)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_LINES:
            raise ProtocolError("invalid_params", f"lines is an integer from 1 to {MAX_LINES}")
        return {"lines": self.recent.lines(count) if self.recent is not None else []}
