"""The core's side of the control API: listen locally, check who connected, answer requests.

One task per connection reads request lines (:mod:`agent.control.protocol`) and answers each
in turn; operations come from an :class:`~agent.control.ops.Operations` table. Nothing a client
sends can stop the server: a bad line gets a coded error, a too-long line gets ``too_large``
and that connection (only) is closed, an operation that raises is ``internal`` (logged), one
that takes too long is ``timeout``. Every wait is bounded: a connection idle for
:data:`IDLE_TIMEOUT` seconds is closed, a client that does not read its answers for
:data:`WRITE_TIMEOUT` seconds too, and at most :data:`MAX_CONNECTIONS` are served at once.

Listening is the one platform-specific part: a Unix socket (mode 0660, the control group)
on Linux and macOS, served by :meth:`ControlServer.handle`; on Windows a named pipe with an
explicit DACL, served by :class:`agent.control.winpipe.PipeListener`'s threads, which hand
each request line to :meth:`ControlServer.respond` on this loop (same operations, same
policy: operators and the control group).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from agent.control import winpipe
from agent.control.peers import AccessPolicy, PeerReader, group_id, read_peer
from agent.control.protocol import (
    MAX_LINE,
    ProtocolError,
    Request,
    Response,
    decode_request,
    error_response,
)
from agent.control.winpipe_api import PipeApi

log = logging.getLogger("chit.agent.control")

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
#: Whether the client of the request being handled is root or the service's own user (an
#: operator): set per connection, read by operations that only an operator may run.
operator: ContextVar[bool] = ContextVar("operator", default=False)
MAX_CONNECTIONS = 32
IDLE_TIMEOUT = 300.0
WRITE_TIMEOUT = 10.0
#: The longest an operation may take (pairing talks to the hub; a test page waits on paper).
OP_TIMEOUT = 60.0
SOCKET_MODE = 0o660


class AlreadyServing(RuntimeError):
    """Another core answers on the control address: this one must not start a second."""


class ControlServer:
    """Serves one table of operations to local clients."""

    def __init__(
        self,
        operations: dict[str, Handler],
        policy: AccessPolicy | None,
        *,
        peer: PeerReader = read_peer,
        op_timeout: float = OP_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        """``policy`` None serves everyone the Unix socket lets in, as operators (tests); a
        named pipe brings its own (:meth:`serve_pipe`)."""
        self.operations = operations
        self.policy = policy
        self._peer = peer
        self._op_timeout = op_timeout
        self._idle_timeout = idle_timeout
        self._max = max_connections
        self._writers: set[asyncio.StreamWriter] = set()
        self._close: list[Callable[[], None]] = []
        self._pipes: list[winpipe.PipeListener] = []
        self.path: Path | None = None

    # --- one connection -----------------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client until it hangs up, goes idle, or breaks the framing."""
        try:
            if await self._admitted(writer):
                self._writers.add(writer)
                await self._serve(reader, writer)
        except (ConnectionError, TimeoutError):
            pass  # the client went away or stopped reading: nothing to answer
        except Exception:
            log.exception("control connection failed")
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), WRITE_TIMEOUT)

    async def _admitted(self, writer: asyncio.StreamWriter) -> bool:
        if len(self._writers) >= self._max:
            await self._send(writer, error_response(ProtocolError("busy", "too many connections")))
            return False
        if self.policy is None:
            operator.set(True)  # no policy: whoever the socket's mode lets in (tests)
            return True
        peer = self._peer(writer.get_extra_info("socket"))
        if peer is not None and self.policy.allows(peer):
            operator.set(self.policy.is_operator(peer))
            return True
        who = f"uid {peer.uid}" if peer is not None else "an unknown peer"
        log.warning("control connection refused", extra={"peer": who})
        refusal = ProtocolError(
            "forbidden", f"{who} is not allowed: the agent service serves root and its group"
        )
        await self._send(writer, error_response(refusal))
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), self._idle_timeout)
            except TimeoutError:
                return
            except ValueError:  # the stream's limit: a line longer than MAX_LINE
                too_large = ProtocolError("too_large", f"a request is at most {MAX_LINE} bytes")
                await self._send(writer, error_response(too_large))
                return
            if not line.strip():
                if not line:
                    return
                continue
            await self._send(writer, await self.respond(line))

    async def _send(self, writer: asyncio.StreamWriter, response: Response) -> None:
        writer.write(response.encode())
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)

    # --- one request ----------------------------------------------------------------------------

    async def respond(self, line: bytes) -> Response:
        """The response to one request line (never raises)."""
        try:
            request = decode_request(line)
        except ProtocolError as exc:
            return error_response(exc)
        handler = self.operations.get(request.op)
        if handler is None:
            unknown = ProtocolError("unknown_op", f"no operation {request.op!r}", request.id)
            return error_response(unknown, ops=sorted(self.operations))
        return await self._run(request, handler)

    async def _run(self, request: Request, handler: Handler) -> Response:
        try:
            result = await asyncio.wait_for(handler(request.params), self._op_timeout)
        except ProtocolError as exc:
            return error_response(ProtocolError(exc.code, exc.message, request.id))
        except TimeoutError:
            message = f"{request.op} did not finish in {self._op_timeout:g} s"
            return error_response(ProtocolError("timeout", message, request.id))
        except Exception:
            log.exception("control operation failed", extra={"op": request.op})
            failed = ProtocolError("internal", f"{request.op} failed; see the log", request.id)
            return error_response(failed)
        return Response(request.id, result=result)

    # --- listening --------------------------------------------------------------------------

    async def serve_unix(self, path: Path, group: str) -> None:
        """Listen on a Unix socket at ``path``: mode 0660, group ``group`` when it exists."""
        await _clear_stale(path)
        os.makedirs(path.parent, exist_ok=True)
        server = await asyncio.start_unix_server(self.handle, path=str(path), limit=MAX_LINE)
        inode = _restrict(path, group)
        self.path = path
        self._close.append(server.close)
        self._close.append(lambda: _unlink_if(path, inode))
        log.info("control API listening", extra={"path": str(path), "group": group})

    async def respond_as(self, line: bytes, is_operator: bool) -> Response:
        """:meth:`respond` for a client the pipe listener identified (operator or not)."""
        operator.set(is_operator)  # this task's own context: no other request sees it
        return await self.respond(line)

    async def serve_pipe(
        self, address: str, group: str = winpipe.GROUP, api: PipeApi | None = None
    ) -> None:
        """Listen on a Windows named pipe whose DACL admits ``group`` (winpipe); ``api`` is
        pywin32 unless a test gives the fake. AlreadyServing when the name is taken."""
        api = api or winpipe.pipe_api()
        if api is None:
            raise RuntimeError("named pipes need Windows (pywin32)")
        try:
            policy = winpipe.resolve_policy(api, group)
        except api.error as exc:  # pywintypes.error is no OSError
            raise OSError(f"cannot resolve the control group {group!r}: {exc}") from None
        limits = winpipe.PipeLimits(
            max_connections=self._max,
            idle_timeout=self._idle_timeout,
            write_timeout=WRITE_TIMEOUT,
            answer_timeout=self._op_timeout + 5.0,
        )
        loop = asyncio.get_running_loop()
        listener = winpipe.PipeListener(api, address, policy, self.respond_as, loop, limits)
        try:
            listener.start()
        except winpipe.PipeTaken as exc:
            listener.join(0)
            raise AlreadyServing(str(exc)) from None
        except BaseException:
            listener.join(0)
            raise
        self._pipes.append(listener)
        log.info("control API listening", extra={"pipe": address, "group": group,
                                                  "sddl": listener.sddl})  # fmt: skip

    async def close(self) -> None:
        """Stop listening and end every connection."""
        for close in self._close:
            close()
        self._close.clear()
        pipes, self._pipes = self._pipes, []
        for listener in pipes:
            listener.close()
        for listener in pipes:
            if not await asyncio.to_thread(listener.join, WRITE_TIMEOUT):
                log.warning("control pipe threads did not stop", extra={"pipe": listener.address})
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()


def _restrict(path: Path, group: str) -> int:
    """Give the socket mode 0660 and the control group; returns its inode.

    It was created with the umask's mode (no group or other write with 022, so no one else
    could connect yet); the mode and group are set before the server says it listens.
    """
    os.chmod(path, SOCKET_MODE)
    gid = group_id(group)
    if gid is None:
        log.warning("no such group: only root and this user can use the control API",
                    extra={"group": group})  # fmt: skip
    else:
        try:
            os.chown(path, -1, gid)
        except PermissionError:
            log.warning("cannot give the control socket to its group", extra={"group": group})
    return os.stat(path).st_ino


def _unlink_if(path: Path, inode: int) -> None:
    """Remove our socket file (not one a newer server put there)."""
    with contextlib.suppress(OSError):
        if os.stat(path).st_ino == inode:
            os.unlink(path)


async def _clear_stale(path: Path) -> None:
    """Remove a socket left by a core that died; AlreadyServing when one answers there."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(probe, str(path)), 2.0)
    except (ConnectionRefusedError, FileNotFoundError, TimeoutError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    except PermissionError:
        pass  # someone else's live socket
    finally:
        probe.close()
    raise AlreadyServing(f"an agent core already serves {path}")
