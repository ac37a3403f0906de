"""``chit-agent discover``, ``test-print``, ``simulate`` and ``printers channel``: printers from
the command line.

``test-print`` takes a printer id, a printer's name, or an address (``HOST:PORT``, or an IP
address). Anything else is looked up among the printers the agent knows (configured, found
by mDNS or USB) and never through DNS: the agent contacts no host it was not given as a
printer. An unknown printer is an error that lists the known ones.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent import settings as store
from agent.command_sets import command_set
from agent.discovery.manual import ManualEntryError, manual_printer
from agent.service import Agent
from agent.settings import AgentSettings, BadChannel, status_channel
from shared.events import PrinterTestRequest
from shared.printers import NO_STATUS_DETAIL, PrinterInfo, PrinterState

AgentFactory = Callable[[AgentSettings], Agent]


class UnknownPrinter(Exception):
    """``test-print`` was given no printer the agent knows; the message lists the known ones."""


def status_text(printer: PrinterInfo) -> str:
    """A printer's state in words: the state and its detail; the sentence for no status."""
    status = printer.status
    if status is None:
        return "unknown"
    if status.state is PrinterState.NO_STATUS:
        return NO_STATUS_DETAIL  # a state of its own: it prints, nobody can say how it is
    # ESC/POS is the usual case; a Star printer in Star mode says so (and when it prints raster).
    channel = " [star]" if printer.status_channel == "star" else ""
    if channel and command_set(printer) == "star-graphic":
        channel = " [star, raster]"
    return f"{status.state}" + (f" ({status.detail})" if status.detail else "") + channel


def set_channel(printer_id: str, name: str) -> int:
    """``printers channel ID CHANNEL|auto``: keep the choice in agent.json; 0 done, 2 bad name.

    Used when no agent service runs (a running service is asked instead, agent.cli_control);
    an agent run from this agent.json applies it at its next scan (it re-reads the choices).
    """
    try:
        channel = None if name.strip().lower() == "auto" else status_channel(name)
    except BadChannel as exc:
        print(f"error: {exc}, or auto", file=sys.stderr)
        return 2
    store.store_channel(printer_id, channel)
    if channel is None:
        print(f"{printer_id}: status channel detected again at first contact")
    else:
        print(f"{printer_id}: status channel set to {channel}")
    print("A running agent applies it at its next scan.", file=sys.stderr)
    return 0


def _path_text(printer: PrinterInfo) -> str:
    """``cups (or direct)``: the path in use and the others found."""
    used = printer.path or "direct"
    others = [str(p) for p in printer.paths or [] if p != used]
    return f"{used} (or {', '.join(others)})" if others else str(used)


async def discover(make_agent: AgentFactory, settings: AgentSettings, as_json: bool) -> int:
    """Scan once; print the printers found (and what could not be scanned)."""
    agent = make_agent(settings)
    report = await agent.scan()
    printers = sorted(agent.printers(), key=lambda p: (p.name.lower(), p.printer_id))
    await agent.stop()
    print_printers(printers, as_json, report.errors)
    return 0


def print_printers(
    printers: Sequence[PrinterInfo], as_json: bool, errors: Mapping[Any, str] | None = None
) -> None:
    """The ``discover`` listing: a table (or JSON), then what could not be scanned."""
    printers = sorted(printers, key=lambda p: (p.name.lower(), p.printer_id))
    if as_json:
        print(json.dumps([p.to_wire() for p in printers], indent=2))
        return
    print(f"{'PRINTER ID':<40} {'NAME':<28} {'VIA':<7} {'PATH':<14} STATUS")
    for p in printers:
        print(
            f"{p.printer_id:<40} {p.name[:28]:<28} {p.source:<7} {_path_text(p):<14} "
            f"{status_text(p)}"
        )
    print(f"{len(printers)} printer(s)", flush=True)
    for source, error in (errors or {}).items():
        print(f"note: {source} discovery failed: {error}", file=sys.stderr)


def is_address(target: str) -> bool:
    """``HOST:PORT``, ``[v6]:PORT`` or a bare IP address: a printer given by where it is."""
    if target.startswith("["):
        return True
    if target.count(":") == 1:
        return target.rsplit(":", 1)[1].isdigit()
    try:
        ipaddress.ip_address(target)
    except ValueError:
        return False
    return True


def _known(printers: Sequence[PrinterInfo]) -> str:
    if not printers:
        return "The agent knows no printers (see chit-agent discover)."
    lines = [f"  {p.printer_id}  {p.name}" for p in sorted(printers, key=lambda p: p.printer_id)]
    return "Known printers (id, name):\n" + "\n".join(lines)


def resolve(target: str, printers: Sequence[PrinterInfo]) -> str:
    """The printer id ``target`` names: an id, an address given, or one printer's name."""
    ids = {p.printer_id for p in printers}
    if target in ids:
        return target
    # A name first: "Network printer 10.0.0.5:9100" is a name that looks like an address.
    named = [p for p in printers if p.name.casefold() == target.casefold()]
    if len(named) == 1:
        return named[0].printer_id
    if is_address(target):
        try:
            entry = manual_printer(target)
        except ManualEntryError as exc:
            raise UnknownPrinter(str(exc)) from None
        # The printer found there (its id may be its serial's), else the address's id.
        at = [p for p in printers if (p.host, p.port) == (entry.host, entry.port)]
        return at[0].printer_id if at else entry.printer_id
    if named:
        raise UnknownPrinter(
            f"{len(named)} printers are called {target!r}; give the id of one.\n" + _known(named)
        )
    raise UnknownPrinter(
        f"no printer {target!r}: it is neither a printer id nor a printer's name.\n"
        f"{_known(printers)}\nOr give a network printer's address as HOST:PORT."
    )


def result_text(result: dict[str, Any], name: str) -> str:
    where = f"{name} ({result['printerId']})" if name != result["printerId"] else name
    state = (result.get("status") or {}).get("state")
    if result["success"] and state == PrinterState.NO_STATUS:
        return (
            f"sent a test page to {where} in {result['durationMs']} ms; the printer does not "
            f"report status, so check the paper (correlation id {result['correlationId']})"
        )
    if result["success"]:
        return (
            f"printed a test page on {where} in {result['durationMs']} ms "
            f"(correlation id {result['correlationId']})"
        )
    error = result.get("error") or {}
    return f"test page not printed on {where}: {error.get('message')} [{error.get('code')}]"


async def test_print(
    make_agent: AgentFactory, settings: AgentSettings, target: str, as_json: bool
) -> int:
    """Print a test page on one printer; 0 printed, 1 failed, 2 no such printer."""
    if is_address(target):
        settings = settings.with_changes(manual_printers=(*settings.manual_printers, target))
    agent = make_agent(settings)
    try:
        await agent.scan()
        printers = agent.printers()
        try:
            printer_id = resolve(target, printers)
        except UnknownPrinter as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        request = PrinterTestRequest(correlation_id=str(uuid.uuid4()), printer_id=printer_id)
        result = (await agent.test_print(request)).to_wire()
    finally:
        await agent.stop()
    name = next((p.name for p in printers if p.printer_id == printer_id), printer_id)
    print(json.dumps(result, indent=2) if as_json else result_text(result, name))
    return 0 if result["success"] else 1


async def simulate(count: int, announce: bool, stop: asyncio.Event) -> int:
    """Run simulated network printers on loopback until ``stop`` is set."""
    from agent.simulators.fleet import SimulatorFleet

    fleet = SimulatorFleet(count, announce=announce)
    await fleet.start()
    try:
        for printer in fleet.printers:
            print(f"{printer.name}: 127.0.0.1:{printer.port} ({printer.printer_id})", flush=True)
        how = (
            "announced over mDNS on loopback: chit-agent discover lists them"
            if announce
            else "not announced: add them with chit-agent config --add-printer NAME=HOST:PORT"
        )
        print(f"{len(fleet.printers)} simulated printer(s), {how}. Ctrl+C stops.", file=sys.stderr)
        await stop.wait()
    finally:
        await fleet.stop()
    return 0
