"""The ``chit-hub`` command line: serve, token, user, branch, listen, agent-release.

Expected failures (a taken port, a bad setting, a database that does not open) are printed
as one ``error:`` line with a non-zero exit code; Ctrl+C and SIGTERM stop quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from hub import cli_branch, cli_listen, cli_release, cli_user, logs, startup
from hub.context import CTX_KEY
from hub.services.bootstrap import bootstrap_admin
from hub.settings import Settings
from hub.startup import StartupError
from shared.tokens import HUB_WIDE_ROLES, Role, mint

COMMANDS = ("serve", "token", "user", "branch", "listen", "agent-release")
DESCRIPTION = """\
The Chit hub: real-time events for a restaurant platform and its receipt printers.
Without a command it serves (chit-hub serve); chit-hub --demo also runs an agent with three
simulated printers and prints a login for the web UI."""
EPILOG = "Settings and examples: README.md and docs/operations.md."


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--data-dir", type=Path, help="where the hub keeps its state")
    parser.add_argument("--secret", dest="jwt_secret", help="HS256 signing secret")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chit-hub",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the hub (the default)")
    _common(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--public-key",
        dest="public_key_files",
        action="append",
        type=Path,
        help="PEM public key accepted for RS256/ES256/EdDSA tokens (repeatable)",
    )
    serve.add_argument(
        "--jwks-url", help="the platform's JWKS (keys picked by kid, refetched on rotation)"
    )
    serve.add_argument("--instance-id")
    serve.add_argument("--database-url", help="postgresql://... (default: SQLite in data dir)")
    serve.add_argument("--redis-url", help="redis://... : cluster mode over Redis")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run N instances on this machine sharing the port (needs Redis)",
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--json-logs", dest="log_json", action="store_const", const=True)
    serve.add_argument("--log-level")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="also run a demo agent with three simulated printers and a demo manager login",
    )
    token = sub.add_parser("token", help="mint a token (HS256, the hub's secret)")
    _common(token)
    token.add_argument("--company", required=False)
    token.add_argument("--branch")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--sub", default=None, help="subject (default: derived from role)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (positive)")
    cli_user.add_parser(sub)
    cli_branch.add_parser(sub)
    cli_listen.add_parser(sub)
    cli_release.add_parser(sub)
    return parser


def _flags(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name, None) for name in names}


def serve(args: argparse.Namespace) -> int:
    """Run the hub until Ctrl+C or SIGTERM."""
    flags = _flags(
        args,
        [
            "data_dir",
            "jwt_secret",
            "host",
            "port",
            "public_key_files",
            "jwks_url",
            "instance_id",
            "database_url",
            "redis_url",
            "log_json",
            "log_level",
        ],
    )
    if flags["public_key_files"]:
        flags["public_key_files"] = tuple(flags["public_key_files"])
    if args.demo and flags["log_level"] is None:
        # Keep the demo's banner (URL, logins) readable: warnings only unless asked otherwise.
        flags["log_level"] = "WARNING"
    settings = startup.settings_from(flags, args.config)
    logs.configure(settings.instance_id, json_lines=settings.log_json, level=settings.log_level)
    if args.demo:
        return _demo(settings)
    if args.workers > 1:
        if not settings.redis_url:
            print(
                "error: --workers needs --redis-url (the instances share state through it)",
                file=sys.stderr,
            )
            return 2
        from hub.workers import run_workers

        return run_workers(args.argv, args.workers)

    async def listening(app: web.Application, url: str) -> None:
        first = await bootstrap_admin(app[CTX_KEY].db, settings.data_dir)
        if first is not None:
            # stdout only, never the log: log files are kept and shipped, this must not be.
            print(
                f"created the first admin account: username {first.username!r}, "
                f"password {first.password!r}, company {first.company_id!r}. "
                "It is shown only now; sign in and change it.",
                flush=True,
            )
        print(f"chit-hub {settings.instance_id} listening on {url}", flush=True)

    asyncio.run(startup.serve(settings, reuse_port=args.reuse_port, on_listening=listening))
    return 0


def _demo(settings: Settings) -> int:
    """Run the hub with the demo agent and printers (needs the agent extra installed)."""
    try:
        from hub.demo import run_demo
    except ImportError as exc:
        print(f"error: the demo needs the agent installed too: {exc}", file=sys.stderr)
        return 2
    asyncio.run(run_demo(settings))
    return 0


def token(args: argparse.Namespace) -> int:
    """Print a freshly signed token."""
    role = Role(args.role)
    if role not in HUB_WIDE_ROLES and not args.company:
        print(f"error: --company is required for role {role}", file=sys.stderr)
        return 2
    if args.ttl <= 0:
        print(
            f"error: --ttl must be a positive number of seconds, not {args.ttl} "
            "(the token would be expired when made)",
            file=sys.stderr,
        )
        return 2
    settings = startup.with_secret(
        startup.settings_from(_flags(args, ["data_dir", "jwt_secret"]), args.config)
    )
    assert settings.jwt_secret is not None
    subject = args.sub or f"{role.value}-{args.company or 'platform'}"
    print(
        mint(
            settings.jwt_secret,
            sub=subject,
            role=role,
            company_id=args.company,
            branch_id=args.branch,
            ttl_seconds=args.ttl,
        )
    )
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": serve,
    "token": token,
    "user": cli_user.run,
    "branch": cli_branch.run,
    "listen": cli_listen.run,
    "agent-release": cli_release.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chit-hub``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in (*COMMANDS, "-h", "--help"):
        arguments.insert(0, "serve")
    args = _parser().parse_args(arguments)
    args.argv = arguments
    try:
        return HANDLERS[args.command](args)
    except StartupError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
