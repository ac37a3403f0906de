"""``chit-agent-supervisor``: start the current version, roll a new one back that never connects.

The service manager runs this (systemd ``ExecStart``, the Windows service, the LaunchDaemon)
instead of the agent itself. It is installed with the package, outside ``versions/``, so a
broken self-update cannot break it. Theory of operation:

1. At start, a pending update (``update/pending.json``) whose deadline has passed is rolled
   back before anything runs: ``current`` points at the previous version again.
2. It starts ``current``'s ``chit-agent`` with the given arguments and
   ``CHIT_AGENT_INSTALL_ROOT`` set, and forwards SIGTERM/SIGINT to it.
3. While an update is pending, the new version must confirm it (the agent clears the marker
   once the hub registered it) by the deadline; if it does not, or exits before that, the
   supervisor stops it, rolls back and exits with the restart code, so the service manager
   starts the previous version.
4. Otherwise it exits with the agent's exit code; the agent exits with
   :data:`RESTART_EXIT_CODE` after switching to a new version.

``--adopt VERSION`` is the package's side instead (the .deb's postinst): point ``current`` at
the version the package just unpacked unless the agent updated itself past it
(:func:`agent.updates.layout.adopt`), print which version is current, and exit.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from agent.updates.layout import Layout, LayoutError, PendingUpdate, adopt, rollback

#: Same value as agent.updates.updater.RESTART_EXIT_CODE (kept here: this module stays small).
RESTART_EXIT_CODE = 75
#: Seconds a stopped agent gets to finish its prints before it is killed.
STOP_GRACE = 30.0


def _due(layout: Layout, pending: PendingUpdate | None) -> bool:
    """Whether a pending update of the current version has missed its deadline."""
    return (
        pending is not None
        and layout.current_version() == pending.to_version
        and time.time() >= pending.deadline
    )


def _stop(child: subprocess.Popen[bytes], grace: float) -> None:
    child.terminate()
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(grace)


def supervise(
    layout: Layout,
    argv: Sequence[str],
    *,
    poll: float = 0.5,
    grace: float = STOP_GRACE,
) -> int:
    """Run the current version once (see the module docstring); the exit code to exit with."""
    pending = layout.pending()
    if _due(layout, pending):
        assert pending is not None
        rollback(layout, pending, "the new version did not connect to the hub in time")
    elif pending is not None and layout.current_version() != pending.to_version:
        layout.set_pending(None)  # switched back by hand meanwhile
    running = layout.current_version()
    entry = layout.entry(running)
    env = {**os.environ, "CHIT_AGENT_INSTALL_ROOT": str(layout.root)}
    child = subprocess.Popen([str(entry), *argv], env=env)

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    while True:
        try:
            code = child.wait(poll)
            break
        except subprocess.TimeoutExpired:
            pass
        if _due(layout, layout.pending()):
            _stop(child, grace)
            return _roll_back(layout, "the new version did not connect to the hub in time")
    pending = layout.pending()
    if pending is not None and running == pending.to_version == layout.current_version():
        # The new version itself ended unconfirmed (the old one exits after switching).
        return _roll_back(layout, f"the new version exited with code {code} before it connected")
    return code


def _roll_back(layout: Layout, reason: str) -> int:
    pending = layout.pending()
    if pending is not None:
        rollback(layout, pending, reason)
    print(f"chit-agent-supervisor: rolled back: {reason}", file=sys.stderr, flush=True)
    return RESTART_EXIT_CODE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``chit-agent-supervisor --install-root DIR [--] run --headless``."""
    parser = argparse.ArgumentParser(
        prog="chit-agent-supervisor", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--install-root", type=Path, required=True)
    parser.add_argument(
        "--adopt",
        metavar="VERSION",
        help="make this installed version current unless a newer one is, then exit",
    )
    parser.add_argument(
        "--force", action="store_true", help="with --adopt: switch even to an older version"
    )
    parser.add_argument("agent_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    agent_args = [a for a in args.agent_args if a != "--"] or ["run", "--headless"]
    layout = Layout(args.install_root)
    try:
        if args.adopt:
            now = adopt(layout, args.adopt, force=args.force)
            kept = "" if now == args.adopt else f" (newer than the package's {args.adopt})"
            print(f"chit-agent-supervisor: current is {now}{kept}")
            return 0
        return supervise(layout, agent_args)
    except LayoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
