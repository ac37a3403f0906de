"""``chit-hub``: serve the hub (default) or mint a token for trying things out."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from hub import logs
from hub.app import build_app
from hub.settings import ensure_secret, load_settings
from shared.tokens import Role, mint

COMMANDS = ("serve", "token")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--data-dir", type=Path, help="where the hub keeps its state")
    parser.add_argument("--secret", dest="jwt_secret", help="HS256 signing secret")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chit-hub", description=__doc__)
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
        help="PEM public key accepted for RS256/ES256 tokens (repeatable)",
    )
    serve.add_argument("--instance-id")
    serve.add_argument("--database-url", help="postgresql://... (default: SQLite in data dir)")
    serve.add_argument("--json-logs", dest="log_json", action="store_const", const=True)
    serve.add_argument("--log-level")
    token = sub.add_parser("token", help="mint a token (HS256, the hub's secret)")
    _common(token)
    token.add_argument("--company", required=False)
    token.add_argument("--branch")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--sub", default=None, help="subject (default: derived from role)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    return parser


def _flags(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name, None) for name in names}


def serve(args: argparse.Namespace) -> int:
    """Run the hub until interrupted."""
    flags = _flags(
        args,
        [
            "data_dir",
            "jwt_secret",
            "host",
            "port",
            "public_key_files",
            "instance_id",
            "database_url",
            "log_json",
            "log_level",
        ],
    )
    if flags["public_key_files"]:
        flags["public_key_files"] = tuple(flags["public_key_files"])
    settings = load_settings(flags, config_file=args.config)
    logs.configure(settings.instance_id, json_lines=settings.log_json, level=settings.log_level)
    print(
        f"chit-hub {settings.instance_id} listening on http://{settings.host}:{settings.port}",
        flush=True,
    )
    web.run_app(build_app(settings), host=settings.host, port=settings.port, print=None)
    return 0


def token(args: argparse.Namespace) -> int:
    """Print a freshly signed token."""
    settings = ensure_secret(
        load_settings(_flags(args, ["data_dir", "jwt_secret"]), config_file=args.config)
    )
    assert settings.jwt_secret is not None
    role = Role(args.role)
    if role not in (Role.SERVICE, Role.ADMIN) and not args.company:
        print("error: --company is required for this role", file=sys.stderr)
        return 2
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chit-hub``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in (*COMMANDS, "-h", "--help"):
        arguments.insert(0, "serve")
    args = _parser().parse_args(arguments)
    handler = {"serve": serve, "token": token}[args.command]
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
