"""A real CUPS scheduler for the tests: its own configuration, spool and loopback port.

``cupsd -f`` runs with a ServerRoot in a temporary directory, listens on ``127.0.0.1:PORT``
(and a domain socket in that directory), and never touches the system's CUPS: no system
file is read or written, and the system's cupsd may or may not be running. Run as root (CI),
cupsd starts the backends as ``lp``, so the directory is made readable to it. The policy lets
anyone do anything: it is a test server on loopback. Queues are created with ``lpadmin``
against this server, as an administrator would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from agent.transports.cups_server import CupsServer
from tests.agent.support import free_port

CUPSD = "/usr/sbin/cupsd"
SOCKET_BACKEND = "/usr/lib/cups/backend/socket"
LPADMIN = shutil.which("lpadmin") or "/usr/sbin/lpadmin"
START_TIMEOUT = 15.0
COMMAND_TIMEOUT = 15.0


def missing() -> str | None:
    """Why a test cupsd cannot run here, or None."""
    for path in (CUPSD, SOCKET_BACKEND, LPADMIN):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed (scripts/setup-system.sh installs cups, cups-client)"
    return None


_FILES_CONF = """\
ServerRoot {root}/etc
RequestRoot {root}/spool
TempDir {root}/tmp
CacheDir {root}/cache
StateDir {root}/run
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
ServerBin /usr/lib/cups
DataDir /usr/share/cups
FileDevice No
"""

_CUPSD_CONF = """\
Listen 127.0.0.1:{port}
Listen {root}/run/cups.sock
LogLevel debug
Browsing No
WebInterface No
DefaultAuthType None
PreserveJobHistory Yes
JobRetryInterval 1
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""


def _prepare() -> Path:
    """A fresh server root with its directories and cups-files.conf."""
    root = Path(tempfile.mkdtemp(prefix="chit-cupsd-"))
    for sub in ("etc", "spool", "tmp", "cache", "run", "log"):
        (root / sub).mkdir()
    for path in (root, *root.iterdir()):
        path.chmod(0o755)  # the backends run as lp when cupsd runs as root
    (root / "etc" / "cups-files.conf").write_text(_FILES_CONF.format(root=root))
    return root


@dataclass
class CupsDaemon:
    """One running test cupsd."""

    root: Path
    port: int
    process: asyncio.subprocess.Process | None = None
    queues: list[str] = field(default_factory=list)

    @property
    def server(self) -> CupsServer:
        """This scheduler over TCP."""
        return CupsServer("127.0.0.1", self.port)

    @property
    def socket_server(self) -> CupsServer:
        """This scheduler over its domain socket."""
        return CupsServer(str(self.root / "run" / "cups.sock"))

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, as ``-h`` and ``CUPS_SERVER`` take it."""
        return f"127.0.0.1:{self.port}"

    @classmethod
    async def start(cls) -> CupsDaemon:
        """Write the configuration and start cupsd; wait until it answers."""
        root, port = _prepare(), free_port()
        (root / "etc" / "cupsd.conf").write_text(_CUPSD_CONF.format(root=root, port=port))
        daemon = cls(root, port)
        daemon.process = await asyncio.create_subprocess_exec(
            CUPSD, "-f", "-c", str(root / "etc" / "cupsd.conf"),
            "-s", str(root / "etc" / "cups-files.conf"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await daemon._wait_ready()
        return daemon

    async def stop(self) -> None:
        """Stop cupsd and remove its directory."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    async def lpadmin(self, *args: str) -> str:
        """Run ``lpadmin -h this-server ARGS``; its output (AssertionError on failure)."""
        return await self.run(LPADMIN, "-h", self.address, *args)

    async def add_raw_queue(self, name: str, device_uri: str, *extra: str) -> None:
        """A raw queue (no driver) sending to ``device_uri``, enabled and accepting jobs."""
        await self.lpadmin("-p", name, "-E", "-v", device_uri, *extra)
        self.queues.append(name)

    async def tool(self, name: str, *args: str) -> str:
        """Run a CUPS client tool (``cupsdisable``, ``cancel``, ``lpstat``) on this server."""
        path = shutil.which(name) or f"/usr/sbin/{name}"
        return await self.run(path, "-h", self.address, *args)

    async def run(self, *argv: str) -> str:
        """Run a command; its output, or AssertionError with what it said."""
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        async with asyncio.timeout(COMMAND_TIMEOUT):
            out, _ = await proc.communicate()
        text = out.decode(errors="replace")
        assert proc.returncode == 0, f"{' '.join(argv)} failed: {text}"
        return text

    def log(self) -> str:
        """cupsd's error log so far (for failure messages)."""
        with contextlib.suppress(OSError):
            return (self.root / "log" / "error_log").read_text(errors="replace")[-4000:]
        return ""

    async def _wait_ready(self) -> None:
        """Until the port accepts connections (or cupsd died)."""
        async with asyncio.timeout(START_TIMEOUT):
            while True:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise RuntimeError(f"cupsd exited at start: {self.log()}")
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.close()
                    return
                await asyncio.sleep(0.05)
