"""``chit-hub --workers N``: N hub instances on one machine, sharing one port and one Redis.

Each worker is an ordinary ``chit-hub serve`` process with ``--reuse-port``, so the kernel
spreads new connections across them (SO_REUSEPORT) and no proxy is needed for websocket
clients. They are one hub through Redis (``--redis-url``, required). The supervisor restarts
a worker that dies (at most five times a minute, like PM2's autorestart) and passes SIGINT and
SIGTERM on to all of them.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Sequence

RESTARTS_PER_MINUTE = 5
POLL_SECONDS = 0.5
STOP_TIMEOUT = 10.0


def worker_argv(argv: Sequence[str], index: int, base: str) -> list[str]:
    """A worker's command line: the serve arguments without --workers, plus its identity."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--workers":
            skip = True
            continue
        if arg.startswith("--workers="):
            continue
        out.append(arg)
    if out and out[0] == "serve":
        out = out[1:]
    return [
        sys.executable,
        "-m",
        "hub.cli",
        "serve",
        *out,
        "--reuse-port",
        "--instance-id",
        f"{base}-{index}",
    ]


class Supervisor:
    """Starts, watches and stops the worker processes."""

    def __init__(self, argv: Sequence[str], count: int) -> None:
        base = f"hub-{uuid.uuid4().hex[:6]}"
        self.commands = [worker_argv(argv, i + 1, base) for i in range(count)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.restarts: deque[float] = deque()
        self.stopping = False

    def run(self) -> int:
        """Run until a signal; returns the exit code."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.procs = [subprocess.Popen(cmd) for cmd in self.commands]
        print(f"chit-hub supervisor: {len(self.procs)} workers", flush=True)
        while not self.stopping:
            time.sleep(POLL_SECONDS)
            for index, proc in enumerate(self.procs):
                if proc.poll() is not None and not self.stopping and not self._restart(index):
                    self._stop()
                    return 1
        return self._terminate()

    def _restart(self, index: int) -> bool:
        now = time.monotonic()
        while self.restarts and now - self.restarts[0] > 60:
            self.restarts.popleft()
        if len(self.restarts) >= RESTARTS_PER_MINUTE:
            print("chit-hub supervisor: workers keep dying; giving up", file=sys.stderr)
            return False
        self.restarts.append(now)
        print(f"chit-hub supervisor: worker {index + 1} exited; restarting", file=sys.stderr)
        self.procs[index] = subprocess.Popen(self.commands[index])
        return True

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def _terminate(self) -> int:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        return 0


def run_workers(argv: Sequence[str], count: int) -> int:
    """Supervise ``count`` workers built from this command line."""
    return Supervisor(argv, count).run()
