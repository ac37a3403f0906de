"""``chit-agent``: run the agent, pair it, list printers, print a test page, simulate printers.

With a display, ``chit-agent`` (and ``chit-agent run``) start the tray app, the PySide6 face
of the same core; ``chit-agent run --headless`` is the service mode. This module is the
composition root: it is the only place outside ``agent.tray`` that names the tray, and it
imports it lazily, so the core and the headless agent run without Qt installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from agent import logs
from agent import settings as store
from agent.pairing import PairingFailed, redeem
from agent.service import Agent
from agent.settings import AgentSettings
from shared.events import PrinterTestRequest
from shared.printers import PrinterInfo

log = logging.getLogger("chit.agent")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chit-agent", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the agent (a service runs this with --headless)")
    run.add_argument("--headless", action="store_true", help="no tray icon (service mode)")
    run.add_argument("--hub", help="hub URL (overrides the settings)")
    pair = sub.add_parser("pair", help="pair with a hub using a code from the manager UI")
    pair.add_argument("code", help="the pairing code, e.g. ABCD-EFGH")
    pair.add_argument("--hub", help="hub URL (default: the configured one)")
    discover = sub.add_parser("discover", help="scan once and show what is found")
    discover.add_argument("--json", action="store_true")
    test = sub.add_parser("test-print", help="print a test page on one printer")
    test.add_argument("printer", help="printer id (see `discover`) or host[:port]")
    test.add_argument("--json", action="store_true")
    simulate = sub.add_parser("simulate", help="run simulated network printers on loopback")
    simulate.add_argument("--count", type=int, default=2)
    simulate.add_argument("--no-mdns", action="store_true", help="do not announce over mDNS")
    config = sub.add_parser("config", help="show or change settings")
    config.add_argument("--hub", help="hub URL")
    config.add_argument("--token", help="device token (stored owner-only)")
    config.add_argument("--add-printer", action="append", default=[], metavar="HOST[:PORT]")
    config.add_argument("--remove-printer", action="append", default=[], metavar="HOST[:PORT]")
    config.add_argument("--subnet", action="append", default=[], metavar="CIDR")
    config.add_argument("--clear-subnets", action="store_true")
    config.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="PRINTER_ID=direct|queue",
        help="how to print to a printer found both directly and as an OS queue",
    )
    return parser


def _agent(settings: AgentSettings) -> Agent:
    return Agent(settings, lambda: store.read_token())


def _status_text(printer: PrinterInfo) -> str:
    status = printer.status
    if status is None:
        return "unknown"
    return f"{status.state}" + (f" ({status.detail})" if status.detail else "")


def _path_text(printer: PrinterInfo) -> str:
    """``cups (or direct)``: the path in use and the others found."""
    used = printer.path or "direct"
    others = [str(p) for p in printer.paths or [] if p != used]
    return f"{used} (or {', '.join(others)})" if others else str(used)


async def _discover(settings: AgentSettings, as_json: bool) -> int:
    agent = _agent(settings)
    report = await agent.scan()
    printers = agent.printers()
    await agent.stop()
    if as_json:
        print(json.dumps([p.to_wire() for p in printers], indent=2))
        return 0
    print(f"{'PRINTER ID':<40} {'NAME':<28} {'VIA':<7} {'PATH':<14} STATUS")
    for p in printers:
        print(
            f"{p.printer_id:<40} {p.name[:28]:<28} {p.source:<7} {_path_text(p):<14} "
            f"{_status_text(p)}"
        )
    for source, error in report.errors.items():
        print(f"! {source}: {error}", file=sys.stderr)
    print(f"{len(printers)} printer(s)")
    return 0


async def _test_print(settings: AgentSettings, target: str, as_json: bool) -> int:
    if ":" not in target or target.count(":") == 1:
        settings = settings.with_changes(manual_printers=(*settings.manual_printers, target))
    agent = _agent(settings)
    await agent.scan()
    printer_id = (
        target
        if target in agent.coordinators
        else next(
            (pid for pid in agent.coordinators if pid.startswith("net:") and target in pid), target
        )
    )
    request = PrinterTestRequest(correlation_id=str(uuid.uuid4()), printer_id=printer_id)
    result = await agent.test_print(request)
    print(json.dumps(result.to_wire(), indent=2) if as_json else _result_text(result.to_wire()))
    return 0 if result.success else 1


def _result_text(result: dict[str, Any]) -> str:
    if result["success"]:
        return (
            f"printed test page on {result['printerId']} in {result['durationMs']} ms "
            f"(correlation id {result['correlationId']})"
        )
    error = result.get("error", {})
    return (
        f"test print failed on {result['printerId']}: {error.get('message')} [{error.get('code')}]"
    )


async def _run(settings: AgentSettings) -> int:
    agent = _agent(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(agent.stop()))
    if not settings.hub_url:
        log.warning("no hub URL configured: running without a hub (chit-agent config --hub)")
    await agent.run()
    return 0


async def _simulate(count: int, announce: bool) -> int:
    from agent.simulators.fleet import SimulatorFleet

    fleet = SimulatorFleet(count, announce=announce)
    await fleet.start()
    for printer in fleet.printers:
        print(f"{printer.name}: 127.0.0.1:{printer.port} ({printer.printer_id})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fleet.stop()
    return 0


async def _pair(settings: AgentSettings, code: str, hub_url: str | None) -> int:
    hub_url = hub_url or settings.hub_url
    if not hub_url:
        print("error: give the hub URL with --hub", file=sys.stderr)
        return 2
    try:
        paired = await redeem(hub_url, code, settings.agent_id, settings.hostname)
    except PairingFailed as exc:
        print(f"pairing failed: {exc}", file=sys.stderr)
        return 1
    store.write_token(paired.token)
    # The hub may name the agent itself (its id was taken); keep the id the token is for.
    store.save(settings.with_changes(hub_url=hub_url, agent_id=paired.agent_id))
    print(
        f"paired agent {paired.agent_id} with {hub_url} "
        f"(company {paired.company_id}, branch {paired.branch_id})"
    )
    return 0


def _config(args: argparse.Namespace) -> int:
    bad = [e for e in args.path if e.rpartition("=")[2] not in ("direct", "queue") or "=" not in e]
    if bad:
        print(f"error: --path takes PRINTER_ID=direct or PRINTER_ID=queue, not {bad[0]!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    settings = store.load()
    printers = [p for p in settings.manual_printers if p not in args.remove_printer]
    printers += [p for p in args.add_printer if p not in printers]
    subnets = () if args.clear_subnets else settings.subnets
    paths = {e.rpartition("=")[0]: e for e in (*settings.printer_paths, *args.path)}
    changes: dict[str, Any] = {
        "printer_paths": tuple(paths.values()),
        "manual_printers": tuple(printers),
        "subnets": tuple(dict.fromkeys([*subnets, *args.subnet])),
    }
    if args.hub:
        changes["hub_url"] = args.hub
    settings = settings.with_changes(**changes)
    path = store.save(settings)
    if args.token:
        store.write_token(args.token)
    shown = {k: v for k, v in vars(settings).items()}
    shown["token"] = "set" if store.read_token() else "not set"
    print(json.dumps(shown, indent=2, default=list))
    print(f"settings: {path}", file=sys.stderr)
    return 0


def has_display(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether a desktop is there to show a tray icon (always on Windows and macOS)."""
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    if platform.startswith("win") or platform == "darwin":
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def tray_available() -> bool:
    """Whether PySide6 is installed (the ``tray`` extra)."""
    return importlib.util.find_spec("PySide6") is not None


def wants_tray(args: argparse.Namespace, display: bool, available: bool) -> bool:
    """Run the tray for ``chit-agent`` / ``run`` with a display; never for ``--headless``."""
    if (args.command or "run") != "run" or getattr(args, "headless", False) or not display:
        return False
    if not available:
        log.warning("no PySide6 (pip install 'chit[tray]'): running headless")
    return available


def _start_tray(hub_url: str | None, verbose: bool) -> int:
    tray = importlib.import_module("agent.tray.app")
    code: int = tray.main(hub_url=hub_url, verbose=verbose)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chit-agent``."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    command = args.command or "run"
    if wants_tray(args, has_display(), tray_available()):
        return _start_tray(getattr(args, "hub", None), args.verbose)
    if command == "config":
        return _config(args)
    if command == "simulate":
        return asyncio.run(_simulate(args.count, not args.no_mdns))
    settings = store.load()
    if command == "run":
        logs.setup(args.verbose, console=False)
        if getattr(args, "hub", None):
            settings = settings.with_changes(hub_url=args.hub)
        return asyncio.run(_run(settings))
    if command == "pair":
        return asyncio.run(_pair(settings, args.code, args.hub))
    if command == "discover":
        return asyncio.run(_discover(settings, args.json))
    return asyncio.run(_test_print(settings, args.printer, args.json))


if __name__ == "__main__":
    raise SystemExit(main())
