"""``chit-hub listen``: connect to a running hub as a web client and print what it sends.

The smallest Socket.IO client that shows the hub working: it signs its own token with the
hub's secret (or takes ``--token``), joins the namespaces asked for, and prints one line per
event, ``<namespace> <event> <payload as JSON>``, until Ctrl+C (or ``--count`` events).
What the hub refuses (a bad token, an unknown branch) is printed as the hub's own sentence.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import socketio
import socketio.exceptions

from hub.settings import Settings
from hub.startup import settings_from, stop_event, with_secret
from shared.namespaces import Namespace, may_connect
from shared.tokens import Role, mint

CONNECT_TIMEOUT = 10.0
_TOKEN_TTL = 3600


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``listen``."""
    parser = sub.add_parser(
        "listen",
        help="print the events a web client of a company or branch receives",
        description=(
            "Connect to a running hub like a manager's browser and print every event it sends, "
            "one line each: namespace, event, payload (JSON). Stop with Ctrl+C."
        ),
    )
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--data-dir", type=Path, help="the hub's data directory (its secret)")
    parser.add_argument("--secret", dest="jwt_secret", help="HS256 signing secret")
    parser.add_argument("--url", help="the hub (default: http://HOST:PORT from the settings)")
    parser.add_argument(
        "--namespace",
        action="append",
        choices=[str(ns) for ns in Namespace],
        help="namespace to join (repeatable; default: all three)",
    )
    parser.add_argument("--company", help="the company whose events to receive")
    parser.add_argument("--branch", help="only this branch's events (and the company's)")
    parser.add_argument(
        "--role",
        default=Role.MANAGER.value,
        choices=[Role.MANAGER.value, Role.STAFF.value, Role.ADMIN.value],
        help="the role of the token signed for the listener (default: manager)",
    )
    parser.add_argument("--token", help="use this token instead of signing one")
    parser.add_argument("--count", type=int, help="exit after this many events")


def _namespaces(args: argparse.Namespace, role: Role) -> list[str]:
    chosen = args.namespace or [str(ns) for ns in Namespace]
    return [ns for ns in dict.fromkeys(chosen) if may_connect(Namespace(ns), role)]


def _token_source(args: argparse.Namespace, settings: Settings) -> Callable[[], dict[str, str]]:
    """The ``auth`` of every (re)connect: the given token, or a freshly signed one."""
    if args.token:
        token = args.token.strip()
        return lambda: {"token": token}
    secret = with_secret(settings).jwt_secret
    assert secret is not None
    role = Role(args.role)

    def fresh() -> dict[str, str]:
        signed = mint(
            secret,
            sub=f"listener-{args.company}",
            role=role,
            company_id=args.company,
            branch_id=args.branch,
            ttl_seconds=_TOKEN_TTL,
        )
        return {"token": signed}

    return fresh


#: Events the hub sends about the listener's own connection: not printed as tenant events.
CONNECTION_EVENTS = frozenset({"stream:status", "auth:expiring", "auth:expired"})


def _line(namespace: str, event: str, args: tuple[Any, ...]) -> str:
    payload = args[0] if len(args) == 1 else list(args)
    return f"{namespace} {event} {json.dumps(payload, ensure_ascii=False, sort_keys=True)}"


class Listener:
    """One Socket.IO client printing every event of its namespaces."""

    def __init__(self, namespaces: list[str], count: int | None) -> None:
        # handle_sigint=False: Ctrl+C is ours (stop_event); socketio would take SIGINT over.
        self.client = socketio.AsyncClient(
            reconnection=True, logger=False, engineio_logger=False, handle_sigint=False
        )
        self.namespaces = namespaces
        self.remaining = count
        self.done = asyncio.Event()
        self.refusal: str | None = None
        for ns in namespaces:
            self.client.on("*", self._printer(ns), namespace=ns)
            self.client.on("connect_error", self._refused(ns), namespace=ns)

    def _printer(self, namespace: str) -> Callable[..., None]:
        def on_event(event: str, *args: Any) -> None:
            if event in CONNECTION_EVENTS:
                return  # about this connection (stream position, token), not the tenant's
            print(_line(namespace, event, args), flush=True)
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.done.set()

        return on_event

    def _refused(self, namespace: str) -> Callable[..., None]:
        def on_refusal(data: Any = None) -> None:
            # The hub refuses with {code, message}; a transport failure comes as plain text.
            if isinstance(data, dict):
                message = data.get("message") or "the hub refused the connection"
                self.refusal = f"{namespace}: {message}"
                self.done.set()

        return on_refusal


async def _close(client: socketio.AsyncClient) -> None:
    """Disconnect and release the HTTP session, also after a failed connect (bounded)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await client.shutdown()
            http = getattr(client.eio, "http", None)
            if http is not None and not http.closed:
                await http.close()


async def _listen(url: str, listener: Listener, auth: Callable[[], dict[str, str]]) -> int:
    stop = stop_event()
    try:
        await listener.client.connect(
            url,
            namespaces=listener.namespaces,
            auth=lambda: auth(),
            transports=["websocket"],
            wait_timeout=CONNECT_TIMEOUT,
        )
    except socketio.exceptions.ConnectionError:
        await _close(listener.client)
        reason = listener.refusal or "no hub answers there (is it running? check --url)"
        print(f"error: cannot listen at {url}: {reason}", file=sys.stderr)
        return 1
    print(f"listening on {', '.join(listener.namespaces)} at {url}; Ctrl+C stops", file=sys.stderr)
    try:
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(listener.done.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
    finally:
        await _close(listener.client)
    if listener.refusal and listener.remaining != 0:
        print(f"error: {listener.refusal}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chit-hub listen``."""
    if not args.token and not args.company:
        print("error: give --company (and --branch), or --token", file=sys.stderr)
        return 2
    if args.count is not None and args.count < 1:
        print("error: --count must be at least 1", file=sys.stderr)
        return 2
    flags = {"data_dir": args.data_dir, "jwt_secret": args.jwt_secret}
    settings = settings_from(flags, args.config)
    url = (args.url or f"http://{settings.host}:{settings.port}").rstrip("/")
    namespaces = _namespaces(args, Role(args.role))
    listener = Listener(namespaces, args.count)
    return asyncio.run(_listen(url, listener, _token_source(args, settings)))
