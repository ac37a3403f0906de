"""``chit-agent``: the command line (run, pair, discover, test-print, simulate, printers, config).

This is the composition root: the only place outside ``agent.tray`` that names the tray,
imported lazily so the core and the headless agent run without Qt installed. Settings come
from agent.json with CHIT_AGENT_* variables over it for this run only; ``config`` and
``pair`` change agent.json and never write an environment override into it.
"""

from __future__ import annotations

if __name__ == "__main__":  # python -m agent.cli: the same lean start as the command (agent.entry)
    from agent.entry import skip_unused_imports

    skip_unused_imports()

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
from collections.abc import Mapping, Sequence
from typing import Any

from agent import __version__, cli_control, cli_printers, enrollment, logs
from agent import settings as store
from agent.control.recent import MAX_LINES
from agent.control.service import run_service
from agent.discovery.manual import ManualEntryError, parse_address, split_name
from agent.host import Build
from agent.pairing import PairingFailed, redeem
from agent.service import Agent
from agent.settings import AgentSettings

log = logging.getLogger("chit.agent")

DESCRIPTION = """\
The Chit agent: finds this PC's receipt printers (USB, network, mDNS), reports them and their
status to the hub, and prints test pages and print jobs for it.

With a desktop, chit-agent (or chit-agent run) shows a tray icon; chit-agent run --headless
is the service mode, and chit-agent status shows the service's state. Pair it once with a
code from the web UI: chit-agent pair CODE --hub URL, or enrol many tills with one enrolment
code: chit-agent enroll --hub URL --code CODE.
Try it without printers: chit-agent simulate, then chit-agent discover and
chit-agent test-print Kitchen."""
EPILOG = "Environment variables CHIT_AGENT_<SETTING> override agent.json for one run."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chit-agent",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"chit-agent {__version__}")
    parser.add_argument(
        "--json-logs", action="store_true", help="log JSON lines (stderr and the log file)"
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the agent (a service runs this with --headless)")
    run.add_argument("--headless", action="store_true", help="no tray icon (service mode)")
    run.add_argument("--hub", help="hub URL (overrides the settings)")
    run.add_argument(
        "--preseed",
        metavar="PATH",
        help="enrolment preseed file read at start when not enrolled yet "
        "(default: $CHIT_AGENT_PRESEED, else /etc/chit-agent/enroll.toml or "
        "%%ProgramData%%\\Chit\\enroll.toml)",
    )
    enroll = sub.add_parser(
        "enroll", help="enrol with a hub using a multi-use enrolment code (mass roll-out)"
    )
    enroll.add_argument("--hub", required=True, help="hub URL, e.g. https://hub.example")
    enroll.add_argument("--code", required=True, help="the enrolment code from the manager UI")
    pair = sub.add_parser("pair", help="pair with a hub using a code from the manager UI")
    pair.add_argument("code", help="the pairing code, e.g. ABCD-EFGH")
    pair.add_argument("--hub", help="hub URL (default: the configured one)")
    discover = sub.add_parser("discover", help="scan once and list the printers found")
    discover.add_argument("--json", action="store_true", help="print JSON")
    test = sub.add_parser("test-print", help="print a test page on one printer")
    test.add_argument(
        "printer", help="a printer id or name (see discover), or an address as HOST:PORT"
    )
    test.add_argument("--json", action="store_true", help="print the result as JSON")
    status = sub.add_parser("status", help="show the agent service's state (hub, printers)")
    status.add_argument("--json", action="store_true", help="print JSON")
    logs_cmd = sub.add_parser("logs", help="show the agent's recent log lines")
    logs_cmd.add_argument("-n", "--lines", type=int, default=100, help="how many (1-500)")
    simulate = sub.add_parser(
        "simulate", help="run simulated receipt printers on this PC (Kitchen, Bar, ...)"
    )
    simulate.add_argument("--count", type=int, default=3, help="how many (default: 3)")
    simulate.add_argument("--no-mdns", action="store_true", help="do not announce over mDNS")
    printers = sub.add_parser("printers", help="per-printer settings")
    per_printer = printers.add_subparsers(dest="printers_command", required=True)
    channel = per_printer.add_parser(
        "channel",
        help="how a printer reports its status: escpos, star, queue, none, or auto (detect)",
    )
    channel.add_argument("printer_id", help="the printer's id (see chit-agent discover)")
    channel.add_argument("channel", help="escpos | star | queue | none | auto")
    config = sub.add_parser("config", help="show or change the settings in agent.json")
    config.add_argument("--hub", help="hub URL")
    config.add_argument("--token", help="device token (stored readable by this user only)")
    config.add_argument(
        "--add-printer",
        action="append",
        default=[],
        metavar="[NAME=]HOST[:PORT]",
        help="a network printer by address, optionally named (repeatable)",
    )
    config.add_argument(
        "--remove-printer",
        action="append",
        default=[],
        metavar="NAME|HOST[:PORT]",
        help="forget a printer added by hand (repeatable)",
    )
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


def _service_build(hub_url: str | None) -> Build:
    """Agents from the stored settings at each (re)start (``--hub`` kept over them)."""

    def build() -> tuple[Agent, bool]:
        settings = store.load()
        if hub_url:
            settings = settings.with_changes(hub_url=hub_url)
        return _agent(settings), store.read_token() is not None

    return build


async def _run(
    settings: AgentSettings, hub_url: str | None = None, preseed: str | None = None
) -> int:
    """The headless core with its control API (agent.control.service) until a signal.

    A till without a token first enrols itself from its preseed file (agent.enrollment).
    """
    stopping = _stop_on_signals()
    settings = await enrollment.preseeded(settings, preseed, stopping)
    if stopping.is_set():
        return 0
    if not settings.hub_url:
        log.warning("no hub URL configured: running without a hub (chit-agent config --hub)")
    return await run_service(_service_build(hub_url), settings, stopping)


def _stop_on_signals() -> asyncio.Event:
    """An event set by Ctrl+C or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _simulate(count: int, announce: bool) -> int:
    if count < 1:
        print("error: --count must be at least 1", file=sys.stderr)
        return 2
    return await cli_printers.simulate(count, announce, _stop_on_signals())


async def _discover(settings: AgentSettings, as_json: bool) -> int:
    served = await cli_control.discover(settings, as_json)
    if served is not None:
        return served
    return await cli_printers.discover(_agent, settings, as_json)


async def _test_print(settings: AgentSettings, target: str, as_json: bool) -> int:
    served = await cli_control.test_print(settings, target, as_json)
    if served is not None:
        return served
    return await cli_printers.test_print(_agent, settings, target, as_json)


async def _set_channel(settings: AgentSettings, printer_id: str, channel: str) -> int:
    """A running service applies (and keeps) the choice at once; without one, agent.json."""
    served = await cli_control.set_channel(settings, printer_id, channel)
    if served is not None:
        return served
    return cli_printers.set_channel(printer_id, channel)


async def _pair(settings: AgentSettings, code: str, hub_url: str | None) -> int:
    served = await cli_control.pair(settings, code, hub_url)
    if served is not None:
        return served
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
    store.update({"hub_url": hub_url, "agent_id": paired.agent_id})
    print(
        f"paired agent {paired.agent_id} with {hub_url} "
        f"(company {paired.company_id}, branch {paired.branch_id})"
    )
    return 0


async def _enroll(settings: AgentSettings, hub_url: str, code: str) -> int:
    try:
        enrolled = await enrollment.enroll(settings, hub_url, code)
    except PairingFailed as exc:
        print(f"enrolment failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"enrolled agent {enrolled.agent_id} with {hub_url} "
        f"(company {enrolled.company_id}, branch {enrolled.branch_id})"
    )
    return 0


def _matches(entry: str, removal: str) -> bool:
    """Whether ``--remove-printer removal`` names the hand-typed ``entry``."""
    name, address = split_name(entry)
    if removal in (entry, address, name):
        return True
    try:
        return parse_address(address) == parse_address(removal)
    except ManualEntryError:
        return False


def _config_changes(args: argparse.Namespace, stored: AgentSettings) -> dict[str, Any]:
    """What ``config`` changes in agent.json (ManualEntryError for a bad printer entry)."""
    added = [split_name(entry)[1] for entry in args.add_printer]
    for address in added:
        parse_address(address)
    # An address added again (with a new name, say) replaces its old entry.
    removals = [*args.remove_printer, *added]
    printers = [p for p in stored.manual_printers if not any(_matches(p, r) for r in removals)]
    printers += [p for p in args.add_printer if p not in printers]
    subnets = () if args.clear_subnets else stored.subnets
    paths = {e.rpartition("=")[0]: e for e in (*stored.printer_paths, *args.path)}
    changes: dict[str, Any] = {
        "printer_paths": tuple(paths.values()),
        "manual_printers": tuple(printers),
        "subnets": tuple(dict.fromkeys([*subnets, *args.subnet])),
    }
    if args.hub:
        changes["hub_url"] = args.hub
    return changes


def _config(args: argparse.Namespace) -> int:
    bad = [e for e in args.path if e.rpartition("=")[2] not in ("direct", "queue") or "=" not in e]
    if bad:
        print(f"error: --path takes PRINTER_ID=direct or PRINTER_ID=queue, not {bad[0]!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        changes = _config_changes(args, store.load_stored())
    except ManualEntryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store.update(changes)
    if args.token:
        store.write_token(args.token)
    shown: dict[str, Any] = dict(vars(store.load()))
    shown["token"] = "set" if store.read_token() else "not set"
    print(json.dumps(shown, indent=2, default=list))
    print(f"settings: {store.config_dir() / store.SETTINGS_FILE}", file=sys.stderr)
    overridden = sorted(store.env_overrides())
    if overridden:
        names = ", ".join(f"{store.ENV_PREFIX}{name.upper()}" for name in overridden)
        print(f"note: {names} override(s) agent.json for this run only", file=sys.stderr)
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


def _console_logging(command: str, verbose: bool, json_lines: bool = False) -> None:
    """The agent logs what it does; one-shot commands print results, the log only problems."""
    quiet = command not in ("run", "simulate")
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    console = logging.StreamHandler()
    short = "%(levelname)s: %(message)s"
    console.setFormatter(
        logs.formatter(json_lines, short if quiet and not verbose else logs.FORMAT)
    )
    # force: python-escpos calls logging.basicConfig() when it is imported.
    logging.basicConfig(level=level, handlers=[console], force=True)
    logs.keep_recent()


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command or "run"
    if wants_tray(args, has_display(), tray_available()):
        return _start_tray(getattr(args, "hub", None), args.verbose)
    if command == "config":
        return _config(args)
    if command == "simulate":
        return asyncio.run(_simulate(args.count, not args.no_mdns))
    settings = store.load()
    if command == "printers":
        return asyncio.run(_set_channel(settings, args.printer_id, args.channel))
    if command == "run":
        logs.setup(args.verbose, console=False, json_lines=args.json_logs)
        if getattr(args, "hub", None):
            settings = settings.with_changes(hub_url=args.hub)
        return asyncio.run(_run(settings, getattr(args, "hub", None), args.preseed))
    if command == "enroll":
        return asyncio.run(_enroll(settings, args.hub, args.code))
    if command == "status":
        return asyncio.run(cli_control.status(settings, args.json))
    if command == "logs":
        if not 0 < args.lines <= MAX_LINES:
            print(f"error: --lines is from 1 to {MAX_LINES}", file=sys.stderr)
            return 2
        return asyncio.run(cli_control.logs(settings, args.lines))
    if command == "pair":
        return asyncio.run(_pair(settings, args.code, args.hub))
    if command == "discover":
        return asyncio.run(_discover(settings, args.json))
    return asyncio.run(_test_print(settings, args.printer, args.json))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chit-agent``; Ctrl+C ends any command quietly."""
    args = _parser().parse_args(argv)
    _console_logging(args.command or "run", args.verbose, args.json_logs)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
