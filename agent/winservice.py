"""The agent's headless core as a Windows service (pywin32's service framework).

Theory of operation: the installer (installers/windows/chit-agent.nsi) runs
``chit-agent-service.exe install``, which registers the service ``ChitAgent``: started
automatically at boot, as the virtual account ``NT SERVICE\\ChitAgent`` (its own identity,
with the access to the spooler every logged-on account has, and to %ProgramData%\\Chit, which
the installer grants it), restarted by the service control manager (SCM) 5 s, 5 s and then
30 s after a failure. The SCM later starts ``chit-agent-service.exe`` with no arguments: it
hands the process to pywin32's dispatcher, which calls :class:`ServiceRunner` ``run`` on the
service thread; a stop request calls ``request_stop`` from the SCM's handler thread.

The logic sits behind two small interfaces, so it is tested off Windows with the fakes in
agent.simulators.fake_scm: :class:`ServiceManager` (create, delete, start, stop a service:
the SCM's API) and :class:`StatusSink` (status reports and the event log). The pywin32
implementations are the only code here that needs Windows; the windows workflow runs them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

log = logging.getLogger("chit.agent.winservice")

SERVICE_NAME = "ChitAgent"
DISPLAY_NAME = "Chit printer agent"
DESCRIPTION = "Drives this PC's receipt printers for the Chit hub (headless core of the agent)."
#: A virtual account: a per-service identity with no password, the spooler open to it.
ACCOUNT = f"NT SERVICE\\{SERVICE_NAME}"
#: Restart delays after the 1st, 2nd and later failures (ms); the count resets after a day.
RESTART_DELAYS_MS = (5_000, 5_000, 30_000)
FAILURE_RESET_S = 86_400
STOP_TIMEOUT_S = 25.0

State = Literal["start_pending", "running", "stop_pending", "stopped"]


def program_data(environ: dict[str, str] | None = None) -> Path:
    """%ProgramData% (C:\\ProgramData when unset)."""
    env = os.environ if environ is None else environ
    return Path(env.get("ProgramData") or env.get("PROGRAMDATA") or r"C:\ProgramData")


def service_folders(base: Path) -> dict[str, str]:
    """The service's agent folders under %ProgramData%\\Chit, as CHIT_AGENT_* variables."""
    chit = base / "Chit"
    return {
        "CHIT_AGENT_CONFIG_DIR": str(chit / "agent"),
        "CHIT_AGENT_DATA_DIR": str(chit / "agent"),
        "CHIT_AGENT_LOG_DIR": str(chit / "logs"),
    }


def enroll_preseed(base: Path) -> Path:
    """Where the installer writes ``/HUB= /ENROLL=`` for the service's first start."""
    return base / "Chit" / "enroll.toml"


@dataclass(frozen=True)
class ServiceSpec:
    """How the service is registered with the SCM."""

    name: str
    display_name: str
    description: str
    command_line: str
    account: str
    auto_start: bool = True
    restart_delays_ms: tuple[int, ...] = RESTART_DELAYS_MS
    failure_reset_s: int = FAILURE_RESET_S
    #: A clean exit with an error code counts as a failure too (not only a crash).
    failure_on_error_exit: bool = True


def service_spec(exe: Path | str) -> ServiceSpec:
    """The spec of ``ChitAgent`` run by ``exe`` (chit-agent-service.exe)."""
    return ServiceSpec(SERVICE_NAME, DISPLAY_NAME, DESCRIPTION, f'"{exe}"', ACCOUNT)


class ServiceManager(Protocol):
    """The part of the SCM's API the installer needs (pywin32, or a fake)."""

    def exists(self, name: str) -> bool: ...
    def state(self, name: str) -> str: ...
    def create(self, spec: ServiceSpec) -> None: ...
    def delete(self, name: str) -> None: ...
    def start(self, name: str) -> None: ...
    def stop(self, name: str, timeout: float) -> None: ...


def install(manager: ServiceManager, exe: Path | str) -> ServiceSpec:
    """Register (or re-register, on upgrade) the service; the installer starts it after."""
    spec = service_spec(exe)
    if manager.exists(spec.name):
        remove(manager)
    manager.create(spec)
    return spec


def remove(manager: ServiceManager, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop (bounded) and delete the service; False when there was none."""
    if not manager.exists(SERVICE_NAME):
        return False
    if manager.state(SERVICE_NAME) != "stopped":
        manager.stop(SERVICE_NAME, timeout)
    manager.delete(SERVICE_NAME)
    return True


class StatusSink(Protocol):
    """Where the running service reports its state and writes to the event log."""

    def report(self, state: State) -> None: ...
    def event(self, level: int, message: str) -> None: ...


class AgentLike(Protocol):
    """What the runner needs of agent.service.Agent."""

    async def run(self) -> None: ...
    async def stop(self) -> None: ...


class ServiceRunner:
    """Runs one agent on its own asyncio loop for the SCM, and stops it when asked."""

    def __init__(
        self,
        make_agent: Callable[[], AgentLike],
        sink: StatusSink,
        stop_timeout: float = STOP_TIMEOUT_S,
    ) -> None:
        self._make_agent = make_agent
        self._sink = sink
        self._stop_timeout = stop_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._agent: AgentLike | None = None
        self._stopping = threading.Event()
        self._stopped: concurrent.futures.Future[None] | None = None

    def run(self) -> int:
        """Block until the agent ends: 0 after a requested stop, 1 when it failed."""
        self._sink.report("start_pending")
        try:
            asyncio.run(self._main())
        except Exception as exc:  # the SCM's recovery restarts a failed service
            log.exception("the agent service failed")
            self._sink.event(logging.ERROR, f"the Chit agent failed: {exc!r}")
            self._sink.report("stopped")
            return 1
        self._sink.report("stopped")
        if not self._stopping.is_set():
            self._sink.event(logging.ERROR, "the Chit agent ended without being asked to")
            return 1
        return 0

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._agent = self._make_agent()
        if self._stopping.is_set():
            return
        self._sink.report("running")
        self._sink.event(logging.INFO, "the Chit agent started")
        run = asyncio.ensure_future(self._agent.run())
        try:
            await run
        except asyncio.CancelledError:
            if not self._stopping.is_set():
                raise

    def request_stop(self) -> None:
        """Ask the agent to stop (from the SCM's thread); gives up waiting after the timeout."""
        self._stopping.set()
        self._sink.report("stop_pending")
        loop, agent = self._loop, self._agent
        if loop is None or agent is None or loop.is_closed():
            return
        # A loop that closes between the check and the call is a stop that already happened.
        with contextlib.suppress(RuntimeError):
            self._stopped = asyncio.run_coroutine_threadsafe(self._stop(agent), loop)

    async def _stop(self, agent: AgentLike) -> None:
        try:
            await asyncio.wait_for(agent.stop(), self._stop_timeout)
        except TimeoutError:
            log.warning("the agent did not stop in %.0f s: cancelling it", self._stop_timeout)
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()


def build_agent() -> AgentLike:
    """The service's agent, with its files in %ProgramData%\\Chit (CHIT_AGENT_* set there
    unless the service's environment chose other folders) and its log file there."""
    from agent import logs
    from agent import settings as store
    from agent.service import Agent

    for key, value in service_folders(program_data()).items():
        os.environ.setdefault(key, value)
    logs.setup(verbose=False, console=False)
    return Agent(store.load(), store.read_token)


# --- pywin32: only on Windows -----------------------------------------------------------------


class Win32ServiceManager:  # pragma: no cover - Windows only (agent-windows workflow)
    """:class:`ServiceManager` over pywin32's win32service."""

    def __init__(self) -> None:
        import win32service

        self._ws: Any = win32service

    def _open(self, name: str, access: int) -> Any:
        scm = self._ws.OpenSCManager(None, None, self._ws.SC_MANAGER_ALL_ACCESS)
        try:
            return self._ws.OpenService(scm, name, access)
        finally:
            self._ws.CloseServiceHandle(scm)

    def exists(self, name: str) -> bool:
        try:
            self._ws.CloseServiceHandle(self._open(name, self._ws.SERVICE_QUERY_STATUS))
        except Exception:
            return False
        return True

    def state(self, name: str) -> str:
        handle = self._open(name, self._ws.SERVICE_QUERY_STATUS)
        try:
            current = self._ws.QueryServiceStatus(handle)[1]
        finally:
            self._ws.CloseServiceHandle(handle)
        return "stopped" if current == self._ws.SERVICE_STOPPED else "running"

    def create(self, spec: ServiceSpec) -> None:
        ws = self._ws
        scm = ws.OpenSCManager(None, None, ws.SC_MANAGER_ALL_ACCESS)
        try:
            start = ws.SERVICE_AUTO_START if spec.auto_start else ws.SERVICE_DEMAND_START
            handle = ws.CreateService(
                scm, spec.name, spec.display_name, ws.SERVICE_ALL_ACCESS,
                ws.SERVICE_WIN32_OWN_PROCESS, start, ws.SERVICE_ERROR_NORMAL,
                spec.command_line, None, 0, "Spooler\0Tcpip\0\0", spec.account, None,
            )  # fmt: skip
            try:
                ws.ChangeServiceConfig2(handle, ws.SERVICE_CONFIG_DESCRIPTION, spec.description)
                actions = [(ws.SC_ACTION_RESTART, ms) for ms in spec.restart_delays_ms]
                ws.ChangeServiceConfig2(
                    handle,
                    ws.SERVICE_CONFIG_FAILURE_ACTIONS,
                    {"ResetPeriod": spec.failure_reset_s, "RebootMsg": None,
                     "Command": None, "Actions": actions},
                )  # fmt: skip
                ws.ChangeServiceConfig2(
                    handle, ws.SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, spec.failure_on_error_exit
                )
            finally:
                ws.CloseServiceHandle(handle)
        finally:
            ws.CloseServiceHandle(scm)

    def delete(self, name: str) -> None:
        handle = self._open(name, self._ws.SERVICE_ALL_ACCESS)
        try:
            self._ws.DeleteService(handle)
        finally:
            self._ws.CloseServiceHandle(handle)

    def start(self, name: str) -> None:
        import win32serviceutil

        win32serviceutil.StartService(name)

    def stop(self, name: str, timeout: float) -> None:
        import win32serviceutil

        win32serviceutil.StopServiceWithDeps(name, waitSecs=int(timeout))


def _dispatch() -> int:  # pragma: no cover - Windows only
    """Hand this process to the SCM (it started us with no arguments)."""
    import servicemanager
    import win32service
    import win32serviceutil

    class _EventLog:
        def __init__(self, framework: Any) -> None:
            self._framework = framework

        def report(self, state: State) -> None:
            codes = {
                "start_pending": win32service.SERVICE_START_PENDING,
                "running": win32service.SERVICE_RUNNING,
                "stop_pending": win32service.SERVICE_STOP_PENDING,
                "stopped": win32service.SERVICE_STOP_PENDING,  # the framework reports STOPPED
            }
            self._framework.ReportServiceStatus(codes[state])

        def event(self, level: int, message: str) -> None:
            if level >= logging.ERROR:
                servicemanager.LogErrorMsg(message)
            else:
                servicemanager.LogInfoMsg(message)

    class ChitAgentService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def __init__(self, args: Any) -> None:
            super().__init__(args)
            self.runner = ServiceRunner(build_agent, _EventLog(self))

        def SvcStop(self) -> None:
            self.runner.request_stop()

        def SvcDoRun(self) -> None:
            if self.runner.run() != 0:
                # An exception makes the framework report a failure: the SCM restarts us.
                raise RuntimeError("the Chit agent failed")

    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(ChitAgentService)
    servicemanager.StartServiceCtrlDispatcher()
    return 0


USAGE = "usage: chit-agent-service [install | remove | start | stop]"


def main(argv: Sequence[str], manager: ServiceManager | None = None) -> int:
    """``chit-agent-service.exe``: no arguments when the SCM starts it, else a command."""
    if not argv:
        if sys.platform != "win32":
            print("the Windows service runs on Windows only", file=sys.stderr)
            return 2
        return _dispatch()  # pragma: no cover
    command = argv[0]
    if command not in ("install", "remove", "start", "stop") or len(argv) > 1:
        print(USAGE, file=sys.stderr)
        return 2
    scm = manager or Win32ServiceManager()
    if command == "install":
        spec = install(scm, sys.executable)
        print(f"installed service {spec.name} ({spec.account}, automatic start)")
    elif command == "remove":
        print("removed service" if remove(scm) else "no service to remove")
    elif command == "start":
        scm.start(SERVICE_NAME)
    else:
        scm.stop(SERVICE_NAME, STOP_TIMEOUT_S)
    return 0
