"""A fake of the Win32 named-pipe calls in ``agent.control.winpipe_api``, for Linux tests.

It plays the documented rules the control pipe's server meets, over socket pairs:

* CreateNamedPipe: ``FILE_FLAG_FIRST_PIPE_INSTANCE`` on a name that exists fails with
  ERROR_ACCESS_DENIED; an instance beyond the pipe's maximum with ERROR_PIPE_BUSY; the
  security descriptor must be one this fake can read (a protected DACL of allow ACEs with
  generic rights, the only kind the server writes), and the first instance's one rules.
* A client opens the pipe as asyncio's does (``_overlapped.ConnectPipe``:
  GENERIC_READ|GENERIC_WRITE): FileNotFoundError when no instance exists, PermissionError
  when the DACL grants the client's SIDs less than both, ERROR_PIPE_BUSY while no instance is
  free (asyncio retries, and so does :meth:`FakePipes.create_pipe_connection`).
* Overlapped I/O: ReadFile, WriteFile and ConnectNamedPipe complete at once (0, event set) or
  pend (ERROR_IO_PENDING, the event reset, set when they finish); CancelIo ends this
  instance's pending operations with ERROR_OPERATION_ABORTED; GetOverlappedResult raises
  the operation's error; a client that hung up gives ERROR_BROKEN_PIPE.
* ImpersonateNamedPipeClient fails until something was read from the connection;
  OpenThreadToken fails on a thread that does not impersonate; CheckTokenMembership looks
  the SID up in the fake client's user and groups.

:class:`FakeUser` is a client identity (user SID, groups enabled in its token, pid);
``FakePipes.user`` is who the next client is.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.control.winpipe_api import (
    ADMINISTRATORS_SID,
    ERROR_ACCESS_DENIED,
    ERROR_BROKEN_PIPE,
    ERROR_IO_PENDING,
    ERROR_NO_DATA,
    ERROR_NONE_MAPPED,
    ERROR_OPERATION_ABORTED,
    ERROR_PIPE_BUSY,
    ERROR_PIPE_CONNECTED,
    ERROR_PIPE_NOT_CONNECTED,
    FILE_FLAG_FIRST_PIPE_INSTANCE,
    INFINITE,
    SYSTEM_SID,
    WAIT_OBJECT_0,
    WAIT_TIMEOUT,
)

ERROR_IO_INCOMPLETE = 996
ERROR_NO_TOKEN = 1008
ERROR_CANNOT_IMPERSONATE = 1368
ERROR_INVALID_SECURITY_DESCR = 1338

#: SDDL's two-letter names for the SIDs the server's DACL may use.
EVERYONE = "S-1-1-0"
ALIASES = {"SY": SYSTEM_SID, "BA": ADMINISTRATORS_SID, "IU": "S-1-5-4", "WD": EVERYONE}
ACE = re.compile(r"\(A;;((?:G[ARWX])+);;;([A-Z]{2}|S-1-[0-9-]+)\)")
#: What asyncio's client asks for when it opens a pipe.
CLIENT_RIGHTS = frozenset({"GR", "GW"})


class FakeWinError(Exception):
    """``pywintypes.error``: (winerror, funcname, strerror)."""

    def __init__(self, winerror: int, funcname: str, strerror: str = "") -> None:
        super().__init__(winerror, funcname, strerror)
        self.winerror = winerror
        self.funcname = funcname


def parse_dacl(sddl: str) -> list[tuple[frozenset[str], str]]:
    """A protected DACL of allow ACEs as (rights, SID) pairs; ValueError for anything else."""
    if not sddl.startswith("D:P"):
        raise ValueError(f"not a protected DACL: {sddl!r}")
    body, aces = sddl[3:], []
    for match in ACE.finditer(body):
        rights = frozenset(match.group(1)[i : i + 2] for i in range(0, len(match.group(1)), 2))
        aces.append((rights, ALIASES.get(match.group(2), match.group(2))))
    if ACE.sub("", body):
        raise ValueError(f"this fake reads allow ACEs with generic rights only: {sddl!r}")
    return aces


def granted(sddl: str, sids: frozenset[str]) -> frozenset[str]:
    """The generic rights the DACL grants a token with these SIDs (GA: all of them)."""
    rights: set[str] = set()
    for ace_rights, sid in parse_dacl(sddl):
        if sid in sids:
            rights |= {"GR", "GW", "GX"} if "GA" in ace_rights else set(ace_rights)
    return frozenset(rights)


@dataclass(frozen=True)
class FakeUser:
    """A client process: its user's SID, the group SIDs enabled in its token, its pid."""

    sid: str
    groups: frozenset[str] = frozenset()
    pid: int = 4242

    @property
    def sids(self) -> frozenset[str]:
        """Every SID in the token: the user, the groups, and Everyone (in every token)."""
        return self.groups | {self.sid, EVERYONE}


@dataclass
class FakeEvent:
    """A manual-reset event."""

    signalled: bool = False


@dataclass
class FakeOverlapped:
    """An OVERLAPPED: its event, and the outcome of the operation it carries."""

    hEvent: FakeEvent
    done: bool = True
    count: int = 0
    error: int | None = None


@dataclass
class FakeToken:
    """An impersonation token."""

    user: FakeUser


@dataclass
class FakeInstance:
    """One server end of the pipe."""

    name: str
    max_instances: int
    sock: socket.socket | None = None
    client: FakeUser | None = None
    accepted: bool = False
    listening: FakeOverlapped | None = None
    inbox: bytearray = field(default_factory=bytearray)
    eof: bool = False
    read_any: bool = False
    reading: tuple[FakeOverlapped, bytearray] | None = None
    writing: FakeOverlapped | None = None
    cancel_write: bool = False
    closed: bool = False


@dataclass(frozen=True)
class Created:
    """A CreateNamedPipe call, as made."""

    name: str
    open_mode: int
    pipe_mode: int
    max_instances: int
    sddl: str


class FakePipes:
    """The fake kernel: pipes by name, and the PipeApi calls the server makes on it."""

    error: type[Exception] = FakeWinError

    def __init__(self, owner_sid: str, accounts: dict[str, str] | None = None) -> None:
        self.owner_sid = owner_sid
        self.accounts = {k.lower(): v for k, v in (accounts or {}).items()}
        self.user = FakeUser(owner_sid)
        self.pipes: dict[str, list[FakeInstance]] = {}
        self.dacls: dict[str, str] = {}
        self.created: list[Created] = []
        self.impersonating: dict[int, FakeUser] = {}
        #: Make RevertToSelf fail (it does not on a sane system; the server must cope).
        self.fail_revert = False
        self._cond = threading.Condition()

    # --- accounts and tokens ----------------------------------------------------------------

    def lookup_sid(self, account: str) -> str:
        sid = self.accounts.get(account.lower())
        if sid is None:
            raise FakeWinError(ERROR_NONE_MAPPED, "LookupAccountName", "No mapping")
        return sid

    def process_user_sid(self) -> str:
        return self.owner_sid

    def get_named_pipe_client_process_id(self, pipe: FakeInstance) -> int:
        if pipe.client is None:
            raise FakeWinError(ERROR_PIPE_NOT_CONNECTED, "GetNamedPipeClientProcessId")
        return pipe.client.pid

    def impersonate_named_pipe_client(self, pipe: FakeInstance) -> None:
        if pipe.client is None or not pipe.read_any:
            raise FakeWinError(ERROR_CANNOT_IMPERSONATE, "ImpersonateNamedPipeClient")
        self.impersonating[threading.get_ident()] = pipe.client

    def open_thread_token(self) -> FakeToken:
        user = self.impersonating.get(threading.get_ident())
        if user is None:
            raise FakeWinError(ERROR_NO_TOKEN, "OpenThreadToken")
        return FakeToken(user)

    def token_user_sid(self, token: FakeToken) -> str:
        return token.user.sid

    def check_token_membership(self, token: FakeToken, sid: str) -> bool:
        return sid in token.user.sids

    def revert_to_self(self) -> None:
        if self.fail_revert:
            raise FakeWinError(5, "RevertToSelf", "Access is denied")
        self.impersonating.pop(threading.get_ident(), None)

    # --- events and overlapped results ------------------------------------------------------

    def create_event(self) -> FakeEvent:
        return FakeEvent()

    def set_event(self, event: FakeEvent) -> None:
        with self._cond:
            event.signalled = True
            self._cond.notify_all()

    def overlapped(self, event: FakeEvent) -> FakeOverlapped:
        return FakeOverlapped(event)

    def wait_for_multiple_objects(self, handles: Sequence[FakeEvent], timeout_ms: int) -> int:
        timeout = None if timeout_ms == INFINITE else timeout_ms / 1000
        with self._cond:
            if not self._cond.wait_for(lambda: any(h.signalled for h in handles), timeout):
                return WAIT_TIMEOUT
            return WAIT_OBJECT_0 + next(i for i, h in enumerate(handles) if h.signalled)

    def get_overlapped_result(self, pipe: FakeInstance, ov: FakeOverlapped, wait: bool) -> int:
        with self._cond:
            if not ov.done:
                if not wait:
                    raise FakeWinError(ERROR_IO_INCOMPLETE, "GetOverlappedResult")
                if not self._cond.wait_for(lambda: ov.done, 10.0):
                    raise AssertionError("an overlapped operation never finished")
            if ov.error is not None:
                raise FakeWinError(ov.error, "GetOverlappedResult")
            return ov.count

    def _begin(self, ov: FakeOverlapped) -> None:
        ov.hEvent.signalled, ov.done, ov.count, ov.error = False, False, 0, None

    def _finish(self, ov: FakeOverlapped, count: int = 0, error: int | None = None) -> None:
        ov.count, ov.error, ov.done = count, error, True
        ov.hEvent.signalled = True
        self._cond.notify_all()

    # --- the server's end -------------------------------------------------------------------

    def create_named_pipe(
        self, name: str, open_mode: int, pipe_mode: int, max_instances: int,
        buffer_size: int, sddl: str,
    ) -> FakeInstance:  # fmt: skip
        try:
            parse_dacl(sddl)
        except ValueError:
            raise FakeWinError(ERROR_INVALID_SECURITY_DESCR, "CreateNamedPipe") from None
        with self._cond:
            self.created.append(Created(name, open_mode, pipe_mode, max_instances, sddl))
            instances = self.pipes.get(name)
            if instances:
                if open_mode & FILE_FLAG_FIRST_PIPE_INSTANCE:
                    raise FakeWinError(ERROR_ACCESS_DENIED, "CreateNamedPipe", "Access is denied")
                if len(instances) >= instances[0].max_instances:
                    raise FakeWinError(
                        ERROR_PIPE_BUSY, "CreateNamedPipe", "All pipe instances are busy"
                    )
            else:
                instances = self.pipes[name] = []
                self.dacls[name] = sddl
            instance = FakeInstance(name, max_instances)
            instances.append(instance)
            return instance

    def connect_named_pipe(self, pipe: FakeInstance, ov: FakeOverlapped) -> int:
        with self._cond:
            if pipe.client is not None and not pipe.accepted:
                if pipe.eof:
                    raise FakeWinError(ERROR_NO_DATA, "ConnectNamedPipe")
                pipe.accepted = True
                return ERROR_PIPE_CONNECTED
            self._begin(ov)
            pipe.listening = ov
            return ERROR_IO_PENDING

    def allocate_read_buffer(self, size: int) -> bytearray:
        return bytearray(size)

    def read_file(self, pipe: FakeInstance, buffer: bytearray, ov: FakeOverlapped) -> int:
        with self._cond:
            self._begin(ov)
            if pipe.inbox:
                self._deliver(pipe, ov, buffer)
                return 0
            if pipe.eof or pipe.client is None:
                raise FakeWinError(ERROR_BROKEN_PIPE, "ReadFile", "The pipe has been ended")
            pipe.reading = (ov, buffer)
            return ERROR_IO_PENDING

    def _deliver(self, pipe: FakeInstance, ov: FakeOverlapped, buffer: bytearray) -> None:
        count = min(len(buffer), len(pipe.inbox))
        buffer[:count] = pipe.inbox[:count]
        del pipe.inbox[:count]
        pipe.read_any = True
        self._finish(ov, count)

    def write_file(self, pipe: FakeInstance, data: bytes, ov: FakeOverlapped) -> int:
        with self._cond:
            self._begin(ov)
            sock = pipe.sock
            if sock is None or pipe.eof:
                raise FakeWinError(ERROR_NO_DATA, "WriteFile", "The pipe is being closed")
        try:
            sent = sock.send(data)
        except (BlockingIOError, TimeoutError):
            sent = 0
        except OSError:
            raise FakeWinError(ERROR_NO_DATA, "WriteFile") from None
        with self._cond:
            if sent == len(data):
                self._finish(ov, sent)
                return 0
            pipe.writing, pipe.cancel_write = ov, False
        threading.Thread(
            target=self._write_rest, args=(pipe, sock, data, sent), daemon=True
        ).start()
        return ERROR_IO_PENDING

    def _write_rest(self, pipe: FakeInstance, sock: socket.socket, data: bytes, sent: int) -> None:
        """A pending write: the rest goes out as the client reads (or CancelIo ends it)."""
        error: int | None = None
        while sent < len(data):
            with self._cond:
                if pipe.cancel_write or pipe.sock is not sock:
                    error = ERROR_OPERATION_ABORTED
                    break
            try:
                sent += sock.send(data[sent:])
            except (BlockingIOError, TimeoutError):
                continue
            except OSError:
                error = ERROR_NO_DATA
                break
        with self._cond:
            ov, pipe.writing = pipe.writing, None
            if ov is not None:
                self._finish(ov, sent, error)

    def cancel_io(self, pipe: FakeInstance) -> None:
        with self._cond:
            if pipe.reading is not None:
                self._finish(pipe.reading[0], 0, ERROR_OPERATION_ABORTED)
                pipe.reading = None
            if pipe.listening is not None:
                self._finish(pipe.listening, 0, ERROR_OPERATION_ABORTED)
                pipe.listening = None
            pipe.cancel_write = True

    def disconnect_named_pipe(self, pipe: FakeInstance) -> None:
        with self._cond:
            sock, pipe.sock, pipe.client = pipe.sock, None, None
            pipe.accepted, pipe.eof, pipe.read_any = False, False, False
            pipe.inbox.clear()
            if pipe.reading is not None:
                self._finish(pipe.reading[0], 0, ERROR_PIPE_NOT_CONNECTED)
                pipe.reading = None
            pipe.cancel_write = True
        if sock is not None:
            sock.close()

    def close_handle(self, handle: Any) -> None:
        if not isinstance(handle, FakeInstance):
            return
        self.disconnect_named_pipe(handle)
        with self._cond:
            handle.closed = True
            instances = self.pipes.get(handle.name, [])
            if handle in instances:
                instances.remove(handle)
            if not instances:
                self.pipes.pop(handle.name, None)
                self.dacls.pop(handle.name, None)

    # --- the client's end -------------------------------------------------------------------

    def open_client(self, name: str, user: FakeUser | None = None) -> socket.socket:
        """CreateFile(GENERIC_READ|GENERIC_WRITE) on the pipe as ``user``: the client's end."""
        user = user or self.user
        with self._cond:
            instances = self.pipes.get(name)
            if not instances:
                raise FileNotFoundError(2, "The system cannot find the file specified")
            if not granted(self.dacls[name], user.sids) >= CLIENT_RIGHTS:
                raise PermissionError(13, "Access is denied")
            free = [i for i in instances if i.client is None]
            free.sort(key=lambda i: i.listening is None)  # those waiting in Connect first
            if not free:
                raise OSError(ERROR_PIPE_BUSY, "All pipe instances are busy")
            pipe = free[0]
            ours, theirs = socket.socketpair()
            theirs.settimeout(0.05)
            pipe.sock, pipe.client, pipe.eof = theirs, user, False
            if pipe.listening is not None:
                pipe.accepted = True
                self._finish(pipe.listening)
                pipe.listening = None
        threading.Thread(target=self._pump, args=(pipe, theirs), daemon=True).start()
        return ours

    def _pump(self, pipe: FakeInstance, sock: socket.socket) -> None:
        """What the client writes, into the instance's inbox (and a pending ReadFile)."""
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                with self._cond:
                    if pipe.sock is not sock:
                        return
                continue
            except OSError:
                data = b""
            with self._cond:
                if pipe.sock is not sock:
                    return
                if not data:
                    pipe.eof = True
                    if pipe.reading is not None:
                        self._finish(pipe.reading[0], 0, ERROR_BROKEN_PIPE)
                        pipe.reading = None
                    return
                pipe.inbox += data
                if pipe.reading is not None:
                    ov, buffer = pipe.reading
                    pipe.reading = None
                    self._deliver(pipe, ov, buffer)

    async def create_pipe_connection(
        self, factory: Callable[[], asyncio.BaseProtocol], address: str
    ) -> tuple[asyncio.BaseTransport, asyncio.BaseProtocol]:
        """The ProactorEventLoop's call the client makes, as ``self.user`` (retries while
        every instance is busy, as asyncio's does)."""
        delay = 0.01
        while True:
            try:
                sock = self.open_client(address)
                break
            except OSError as exc:
                if exc.errno != ERROR_PIPE_BUSY:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
        loop = asyncio.get_running_loop()
        return await loop.create_connection(factory, sock=sock)
