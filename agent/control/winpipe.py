"""The control API's Windows named pipe: an explicit DACL, a fixed pool of instances, and the
same per-user policy as the Unix socket.

Why not asyncio's ``start_serving_pipe``: it creates every instance with the default security
descriptor (full control for LocalSystem, Administrators and the creator owner, read only for
Everyone), so a standard user's tray could never write a request, and it takes no security
attributes. This module creates the pipe itself, through pywin32 behind
:mod:`agent.control.winpipe_api` (the one seam; ``agent.simulators.fake_winpipe`` plays it
in the Linux tests):

* The DACL (:func:`sddl`): LocalSystem, Administrators and the service's own account (the
  process's token user: ``NT SERVICE\\ChitAgent`` under the service) full control, the local
  group ``Chit Agent Users`` (the installer creates it) read/write, nobody else; protected
  (``D:P``), so nothing is inherited. ``PIPE_REJECT_REMOTE_CLIENTS``: local clients only.
* Squatting: the first instance is created with ``FILE_FLAG_FIRST_PIPE_INSTANCE``, so when
  another process already holds the name the core refuses to start (:class:`PipeTaken`)
  instead of serving beside it. Read/write for the group includes
  ``FILE_CREATE_PIPE_INSTANCE`` (GENERIC_WRITE maps to it, and asyncio's client, the tray's,
  asks for GENERIC_READ|GENERIC_WRITE), so a member could otherwise add an instance of its own
  and answer other users' trays; every instance (``max_connections + 1``, the pipe's
  maximum) is therefore created at start and reused (DisconnectNamedPipe) until the server
  stops, and no one can add another.
* Who connected: after a client's first bytes (ImpersonateNamedPipeClient works only once
  something was read), the server impersonates it, reads its token (user SID;
  CheckTokenMembership of SYSTEM, Administrators, the service's account and the group),
  reverts, and applies :class:`~agent.control.peers.SidPolicy`: the same rule as on Unix.

Threads, not the event loop: one thread per pipe instance, each doing overlapped I/O and
waiting with WaitForMultipleObjects on the operation's event and a stop event, with a
timeout. Overlapped, because a blocking ReadFile on a pipe cannot be given a timeout, and a
silent client must not hold an instance for ever; threads, because a wait blocks and the
pool is small (33). Each request line goes to the asyncio loop with
``run_coroutine_threadsafe`` and the server's own handler (``ControlServer.respond``), so
operations run exactly as they do for a Unix client. Bounds, as on Unix: a line is at most
64 KiB (``too_large``, then the connection is closed), a connection silent for the idle
timeout is closed (a client trickling a line resets nothing until the line ends), an answer
the client does not take within the write timeout drops it, and at most ``max_connections``
are served at once (the spare instance answers ``busy``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from agent.control import WINDOWS_GROUP
from agent.control.peers import PipePeer, SidPolicy
from agent.control.protocol import MAX_LINE, ProtocolError, Response, error_response
from agent.control.winpipe_api import (
    ERROR_ACCESS_DENIED,
    ERROR_BROKEN_PIPE,
    ERROR_IO_PENDING,
    ERROR_NO_DATA,
    ERROR_NONE_MAPPED,
    ERROR_OPERATION_ABORTED,
    ERROR_PIPE_CONNECTED,
    ERROR_PIPE_NOT_CONNECTED,
    FILE_FLAG_FIRST_PIPE_INSTANCE,
    FILE_FLAG_OVERLAPPED,
    INFINITE,
    PIPE_ACCESS_DUPLEX,
    PIPE_READMODE_BYTE,
    PIPE_REJECT_REMOTE_CLIENTS,
    PIPE_TYPE_BYTE,
    PIPE_WAIT,
    SYSTEM_SID,
    WAIT_OBJECT_0,
    PipeApi,
    PyWin32Pipes,
    winerror,
)

log = logging.getLogger("chit.agent.control")

#: The local group whose members may use the service (the installer creates it).
GROUP = WINDOWS_GROUP
#: Bytes one ReadFile asks for.
READ_SIZE = 4096
#: Win32 errors that mean the client has gone.
GONE = frozenset({ERROR_BROKEN_PIPE, ERROR_NO_DATA, ERROR_PIPE_NOT_CONNECTED,
                  ERROR_OPERATION_ABORTED})  # fmt: skip

#: The server's handler: a request line and whether its client is an operator -> the answer.
Respond = Callable[[bytes, bool], Coroutine[Any, Any, Response]]

_api: PipeApi | None = None


def use_pipe_api(api: PipeApi | None) -> None:
    """Install ``api`` as the Win32 pipe API (tests, demos); None restores the platform's."""
    global _api
    _api = api


def pipe_api(platform: str = sys.platform) -> PipeApi | None:
    """The installed API, else pywin32's on Windows, else None (no named pipes here)."""
    if _api is not None:
        return _api
    if platform != "win32":
        return None
    try:  # pragma: no cover - Windows only
        return PyWin32Pipes()
    except ImportError:  # pragma: no cover
        return None


class PipeTaken(OSError):
    """Another process holds the pipe's name (another core, or a squatter)."""


class Stopped(Exception):
    """The listener is stopping: end this connection now."""


class ImpersonationStuck(RuntimeError):
    """RevertToSelf failed: this thread must not serve anyone again."""


def sddl(owner_sid: str, group_sid: str | None) -> str:
    """The pipe's security descriptor: a protected DACL, and no one else."""
    aces = ["(A;;GA;;;SY)", "(A;;GA;;;BA)"]
    if owner_sid != SYSTEM_SID:
        aces.append(f"(A;;GA;;;{owner_sid})")
    if group_sid is not None:
        aces.append(f"(A;;GRGW;;;{group_sid})")
    return "D:P" + "".join(aces)


def open_mode(first: bool) -> int:
    """CreateNamedPipe's open mode; the first instance also claims the name."""
    mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED
    return mode | FILE_FLAG_FIRST_PIPE_INSTANCE if first else mode


PIPE_MODE = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS


def resolve_policy(api: PipeApi, group: str) -> SidPolicy:
    """This process's account and the control group's SID (a name, or a SID as text)."""
    owner = api.process_user_sid()
    if group.upper().startswith("S-1-"):
        return SidPolicy(owner_sid=owner, group_sid=group)
    try:
        group_sid: str | None = api.lookup_sid(group)
    except api.error as exc:
        if winerror(exc) != ERROR_NONE_MAPPED:
            raise
        log.warning("no such group: only administrators and the service can use the control "
                    "API", extra={"group": group})  # fmt: skip
        group_sid = None
    return SidPolicy(owner_sid=owner, group_sid=group_sid)


def identify(api: PipeApi, pipe: Any, sids: tuple[str, ...]) -> PipePeer:
    """Who is on the other end: impersonate the client, read its token, revert.

    Raises the API's error when the client cannot be impersonated (then nothing it asks is
    served), ImpersonationStuck when the thread could not revert.
    """
    pid = api.get_named_pipe_client_process_id(pipe)
    api.impersonate_named_pipe_client(pipe)
    try:
        token = api.open_thread_token()
        try:
            user = api.token_user_sid(token)
            member = frozenset(s for s in sids if api.check_token_membership(token, s))
        finally:
            api.close_handle(token)
    finally:
        try:
            api.revert_to_self()
        except Exception as exc:
            raise ImpersonationStuck(f"RevertToSelf failed: {exc}") from exc
    return PipePeer(pid=pid, user_sid=user, member_of=member)


@dataclass(frozen=True)
class PipeLimits:
    """The listener's bounds (ControlServer's own by default)."""

    max_connections: int = 32
    idle_timeout: float = 300.0
    write_timeout: float = 10.0
    #: How long a thread waits for the loop's answer: the operation's bound plus a margin.
    answer_timeout: float = 65.0
    buffer_size: int = MAX_LINE


@dataclass
class _Io:
    """One thread's OVERLAPPED and its event (reused for every operation)."""

    event: Any
    overlapped: Any


class PipeListener:
    """Serves one pipe name from a pool of instances, a thread each."""

    def __init__(
        self, api: PipeApi, address: str, policy: SidPolicy, respond: Respond,
        loop: asyncio.AbstractEventLoop, limits: PipeLimits,
    ) -> None:  # fmt: skip
        self.api, self.address, self.policy = api, address, policy
        self._respond, self._loop, self.limits = respond, loop, limits
        self._stopping = threading.Event()
        self._stop = api.create_event()
        self._lock = threading.Lock()
        self._active = 0
        self._threads: list[threading.Thread] = []
        self.sddl = sddl(policy.owner_sid, policy.group_sid)

    @property
    def instances(self) -> int:
        """Pipe instances (and threads): one more than the connections served at once."""
        return self.limits.max_connections + 1

    def start(self) -> None:
        """Create every instance (the first claims the name), then start their threads."""
        pipes: list[Any] = []
        try:
            for index in range(self.instances):
                pipes.append(self._create(first=index == 0))
        except BaseException:
            for pipe in pipes:
                self.api.close_handle(pipe)
            raise
        for index, pipe in enumerate(pipes):
            thread = threading.Thread(
                target=self._run, args=(pipe,), name=f"chit-pipe-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _create(self, first: bool) -> Any:
        try:
            return self.api.create_named_pipe(
                self.address, open_mode(first), PIPE_MODE, self.instances,
                self.limits.buffer_size, self.sddl,
            )  # fmt: skip
        except self.api.error as exc:
            if first and winerror(exc) == ERROR_ACCESS_DENIED:
                raise PipeTaken(f"another process holds {self.address}") from None
            raise OSError(f"cannot create {self.address}: {exc}") from None

    def close(self) -> None:
        """Stop: every wait ends, every connection is closed, the threads exit."""
        self._stopping.set()
        self.api.set_event(self._stop)

    def join(self, timeout: float) -> bool:
        """Wait (bounded) for the threads to exit; whether they all did."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        if not alive:
            self.api.close_handle(self._stop)
        return not alive

    # --- one instance's thread -------------------------------------------------------------

    def _run(self, pipe: Any) -> None:
        event = self.api.create_event()
        io = _Io(event, self.api.overlapped(event))
        stuck = False
        try:
            while not self._stopping.is_set():
                try:
                    self._one_client(pipe, io)
                except Stopped:
                    return
                except ImpersonationStuck:
                    # Serve no one from this thread again; the instance stays open (and
                    # unused) so the pool stays full and no one else can add one.
                    log.critical("control pipe instance stopped: it could not stop impersonating")
                    stuck = True
                    return
        finally:
            if not stuck:
                self.api.close_handle(pipe)
            self.api.close_handle(event)

    def _one_client(self, pipe: Any, io: _Io) -> None:
        """Accept and serve one client (Stopped, ImpersonationStuck: the thread must end)."""
        try:
            self._accept(pipe, io)
            self._serve(pipe, io)
        except (Stopped, ImpersonationStuck):
            raise
        except (TimeoutError, ConnectionError):
            pass
        except Exception as exc:
            if winerror(exc) not in GONE:
                log.exception("control connection failed")
                self._stopping.wait(1.0)  # a broken instance must not spin
        finally:
            with contextlib.suppress(Exception):
                self.api.disconnect_named_pipe(pipe)

    def _wait(self, pipe: Any, io: _Io, hr: int, timeout: float | None) -> int:
        """Finish an overlapped operation that returned ``hr``; the bytes it moved.

        Pending past ``timeout`` (TimeoutError) or the stop (Stopped): cancelled, and waited
        for, so its buffer and OVERLAPPED are free again.
        """
        if hr == ERROR_IO_PENDING:
            ms = INFINITE if timeout is None else max(0, int(timeout * 1000))
            which = self.api.wait_for_multiple_objects([io.event, self._stop], ms)
            if which != WAIT_OBJECT_0:
                self.api.cancel_io(pipe)
                with contextlib.suppress(Exception):
                    self.api.get_overlapped_result(pipe, io.overlapped, True)
                raise Stopped() if which == WAIT_OBJECT_0 + 1 else TimeoutError()
        return self.api.get_overlapped_result(pipe, io.overlapped, False)

    def _accept(self, pipe: Any, io: _Io) -> None:
        hr = self.api.connect_named_pipe(pipe, io.overlapped)
        if hr != ERROR_PIPE_CONNECTED:  # connected between CreateNamedPipe and now: no event
            self._wait(pipe, io, hr, None)

    def _read(self, pipe: Any, io: _Io, timeout: float) -> bytes:
        """Up to READ_SIZE bytes; b"" when the client has gone."""
        if timeout <= 0:
            raise TimeoutError()
        buffer = self.api.allocate_read_buffer(READ_SIZE)
        try:
            hr = self.api.read_file(pipe, buffer, io.overlapped)
            count = self._wait(pipe, io, hr, timeout)
        except self.api.error as exc:
            if winerror(exc) in GONE:
                return b""
            raise
        return bytes(buffer[:count])

    def _send(self, pipe: Any, io: _Io, response: Response) -> None:
        data = response.encode()
        deadline = time.monotonic() + self.limits.write_timeout
        while data:
            hr = self.api.write_file(pipe, data, io.overlapped)
            written = self._wait(pipe, io, hr, deadline - time.monotonic())
            data = data[written:]

    # --- one connection ----------------------------------------------------------------------

    def _serve(self, pipe: Any, io: _Io) -> None:
        with self._lock:
            busy = self._active >= self.limits.max_connections
            if not busy:
                self._active += 1
        if busy:
            self._send(pipe, io, error_response(ProtocolError("busy", "too many connections")))
            return
        try:
            self._converse(pipe, io)
        finally:
            with self._lock:
                self._active -= 1

    def _converse(self, pipe: Any, io: _Io) -> None:
        pending = bytearray()
        operator: bool | None = None
        deadline = time.monotonic() + self.limits.idle_timeout
        while True:
            chunk = self._read(pipe, io, deadline - time.monotonic())
            if not chunk:
                return
            if operator is None:
                operator = self._admit(pipe, io)
                if operator is None:
                    return
            pending += chunk
            while (end := pending.find(b"\n")) >= 0:
                line = bytes(pending[: end + 1])
                del pending[: end + 1]
                if len(line) > MAX_LINE:
                    return self._too_large(pipe, io)
                if line.strip():
                    self._send(pipe, io, self._answer(line, operator))
                deadline = time.monotonic() + self.limits.idle_timeout
            if len(pending) >= MAX_LINE:
                return self._too_large(pipe, io)

    def _too_large(self, pipe: Any, io: _Io) -> None:
        """Answer ``too_large``; the caller then closes (the framing cannot be trusted)."""
        too_large = ProtocolError("too_large", f"a request is at most {MAX_LINE} bytes")
        self._send(pipe, io, error_response(too_large))

    def _admit(self, pipe: Any, io: _Io) -> bool | None:
        """Whether the client is an operator; None (after ``forbidden``) when it may not use
        the API at all."""
        peer: PipePeer | None
        try:
            peer = identify(self.api, pipe, self.policy.asked())
        except self.api.error as exc:
            log.warning("cannot tell who opened the control pipe", extra={"error": str(exc)})
            peer = None
        if peer is not None and self.policy.allows(peer):
            return self.policy.is_operator(peer)
        who = f"{peer.user_sid} (pid {peer.pid})" if peer is not None else "an unknown peer"
        log.warning("control connection refused", extra={"peer": who})
        refusal = ProtocolError(
            "forbidden",
            f"{who} is not allowed: the agent service serves administrators and the group "
            f"{GROUP!r}",
        )
        self._send(pipe, io, error_response(refusal))
        return None

    def _answer(self, line: bytes, operator: bool) -> Response:
        """The loop's answer to one line (bounded; Stopped when the listener stops)."""
        future = asyncio.run_coroutine_threadsafe(self._respond(line, operator), self._loop)
        deadline = time.monotonic() + self.limits.answer_timeout
        while True:
            try:
                return future.result(timeout=0.1)
            except TimeoutError:
                if self._stopping.is_set():
                    future.cancel()
                    raise Stopped() from None
                if time.monotonic() > deadline:
                    future.cancel()
                    return error_response(ProtocolError("timeout", "no answer in time"))
