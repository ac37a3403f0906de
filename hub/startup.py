"""Start-up checks and serving: every expected start-up failure becomes one clear sentence.

A person who starts the hub on a taken port, an unusable data directory, a wrong database URL
or an unreachable Redis gets a :class:`StartupError` whose message says what is wrong and
which setting to change; the CLI prints it and exits non-zero, without a traceback. The
checks run in the order things are needed (data directory, keys, Redis, database, port), and
the hub says it is listening only once the port is really bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from hub.app import GATE_KEY, build_app
from hub.auth import load_keys
from hub.limits import GuardedFactory
from hub.settings import Settings, ensure_secret, load_settings
from hub.store import Database

#: Seconds to wait for Redis to answer PING at start.
REDIS_TIMEOUT = 5.0
#: Seconds open connections get to finish when the hub stops.
SHUTDOWN_TIMEOUT = 5.0


class StartupError(Exception):
    """The hub cannot start; ``message`` says why and what to change, ``exit_code`` how bad."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def settings_from(flags: dict[str, Any], config_file: Path | None = None) -> Settings:
    """Settings from flags, environment and file; a value that does not parse is a usage error."""
    try:
        return load_settings(flags, config_file=config_file)
    except ValueError as exc:
        raise StartupError(str(exc), exit_code=2) from None
    except OSError as exc:
        name = getattr(exc, "filename", None) or "the settings file"
        raise StartupError(f"cannot read {name}: {_reason(exc)}; check --config", 2) from None


def _reason(exc: BaseException) -> str:
    """An OS error in words: "permission denied", not "[Errno 13] Permission denied: '/x'"."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno).lower()
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc).strip()
    return text or type(exc).__name__


def check_data_dir(path: Path) -> None:
    """The data directory exists (created owner-only) and the hub may read and write it."""
    fix = "choose another with --data-dir (or CHIT_HUB_DATA_DIR), or fix its permissions"
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:
        message = f"the data directory {path} is a file, not a directory; {fix}"
        raise StartupError(message) from None
    except OSError as exc:
        message = f"cannot create the data directory {path}: {_reason(exc)}; {fix}"
        raise StartupError(message) from None
    if not path.is_dir():
        raise StartupError(f"the data directory {path} is not a directory; {fix}")
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise StartupError(f"cannot use the data directory {path}: permission denied; {fix}")


def with_secret(settings: Settings) -> Settings:
    """Settings with the signing secret (configured, or kept in the data directory)."""
    try:
        return ensure_secret(settings)
    except OSError as exc:
        raise StartupError(
            f"cannot read or create the signing secret in {settings.data_dir}: {_reason(exc)}; "
            "fix the data directory's permissions or choose another with --data-dir"
        ) from None


def prepare_keys(settings: Settings) -> Settings:
    """Settings with the signing secret; the public key files are readable and parse."""
    settings = with_secret(settings)
    try:
        load_keys(settings)
    except OSError as exc:
        name = getattr(exc, "filename", None) or "a public key file"
        raise StartupError(f"cannot read {name}: {_reason(exc)}; check --public-key") from None
    except ValueError as exc:
        raise StartupError(f"{exc}; check --public-key and the token settings") from None
    return settings


def safe_url(url: str) -> str:
    """A URL fit for a message: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url


async def check_redis(url: str, timeout: float = REDIS_TIMEOUT) -> None:
    """Cluster mode needs Redis: it answers PING within ``timeout`` seconds."""
    fix = "start Redis, or check --redis-url (or CHIT_HUB_REDIS_URL)"
    try:
        client = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
    except ValueError as exc:
        raise StartupError(f"bad Redis URL {safe_url(url)!r}: {exc}; {fix}") from None
    try:
        async with asyncio.timeout(timeout):
            await client.ping()
    except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
        inner = exc.__cause__ or exc.__context__
        cause = inner if isinstance(inner, OSError) else exc
        message = f"cannot reach Redis at {safe_url(url)}: {_reason(cause)}; {fix}"
        raise StartupError(message) from None
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


def _database_reason(exc: BaseException) -> str:
    """Why a database did not open, from the driver's error."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return _reason(exc.orig)
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, SQLAlchemyError) and cause is not None:
        return _reason(cause)
    return _reason(exc)


@contextlib.contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """Turn a database that does not open (bad URL, no server, refused) into a StartupError."""
    where = safe_url(settings.database_url) if settings.database_url else "in the data directory"
    fix = "check --database-url (or CHIT_HUB_DATABASE_URL)"
    try:
        yield
    except ArgumentError:
        url = safe_url(settings.database_url or "")
        raise StartupError(
            f"bad database URL {url!r}: expected sqlite:///PATH or postgresql://USER@HOST/DB; {fix}"
        ) from None
    except ValueError as exc:
        raise StartupError(f"bad database URL: {exc}; {fix}") from None
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        reason = _database_reason(exc)
        raise StartupError(f"cannot open the database {where}: {reason}; {fix}") from None
    except Exception as exc:  # asyncpg's own errors (a wrong password, no such database)
        if type(exc).__module__.startswith("asyncpg"):
            raise StartupError(f"cannot open the database {where}: {exc}; {fix}") from None
        raise


async def open_app(settings: Settings) -> web.Application:
    """The hub's application, with its database connected and migrated."""
    with database_errors(settings):
        return await build_app(settings)


async def open_database(settings: Settings) -> Database:
    """The hub's database, connected and migrated (for the CLI's account and branch commands)."""
    check_data_dir(settings.data_dir)
    with database_errors(settings):
        return await Database.connect(settings.database_url, settings.data_dir)


def _bind_error(exc: OSError, host: str, port: int) -> StartupError:
    """What a failed bind means for the person starting the hub."""
    if exc.errno == errno.EADDRINUSE:
        return StartupError(
            f"port {port} is in use on {host}; choose another with --port "
            "(or stop the program that uses it)"
        )
    if exc.errno == errno.EACCES:
        return StartupError(
            f"not allowed to listen on port {port} (ports below 1024 need privileges); "
            "choose another with --port"
        )
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return StartupError(
            f"cannot listen on {host}: this machine has no such address; check --host"
        )
    return StartupError(f"cannot listen on {host}:{port}: {_reason(exc)}")


async def bind(
    runner: web.AppRunner, host: str, port: int, *, reuse_port: bool = False
) -> tuple[str, asyncio.Server]:
    """Listen on ``host:port`` (0: a free port): the URL the hub answers on, and the listener.

    The socket gets hub.limits' protocol factory rather than aiohttp's own site, so every
    connection has a header deadline, counts against its address's cap and gets JSON errors.
    """
    assert runner.server is not None, "the runner is set up first"
    factory = GuardedFactory(runner.server, runner.app[GATE_KEY])
    try:
        listener = await asyncio.get_running_loop().create_server(
            factory, host, port, reuse_address=True, reuse_port=reuse_port or None, backlog=1024
        )
    except OSError as exc:
        raise _bind_error(exc, host, port) from None
    sockname = listener.sockets[0].getsockname()
    shown = f"[{sockname[0]}]" if listener.sockets[0].family == socket.AF_INET6 else sockname[0]
    return f"http://{shown}:{sockname[1]}", listener


def stop_event() -> asyncio.Event:
    """An event set by SIGINT (Ctrl+C) or SIGTERM, so the program stops quietly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(
    settings: Settings,
    *,
    reuse_port: bool = False,
    on_listening: Callable[[web.Application, str], Awaitable[None]] | None = None,
) -> None:
    """Check, open and serve the hub until SIGINT or SIGTERM; StartupError when it cannot."""
    check_data_dir(settings.data_dir)
    settings = prepare_keys(settings)
    if settings.redis_url:
        await check_redis(settings.redis_url)
    stop = stop_event()
    app = await open_app(settings)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        url, listener = await bind(runner, settings.host, settings.port, reuse_port=reuse_port)
        try:
            if on_listening is not None:
                await on_listening(app, url)
            await stop.wait()
        finally:
            listener.close()
    finally:
        await runner.cleanup()
