"""``chit-hub branch``: provision the branches of a company (the hub admits no other branch).

A token that names a branch is accepted only when the store says the branch is that company's.
Operators provision branches here; managers add them in the web UI or over REST, and the
platform with its service token (``POST /api/v1/branches``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from hub.settings import Settings
from hub.startup import open_database, settings_from
from hub.store import TenantConflict, tenants
from shared.rooms import RoomNameError, branch_room, company_room


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``branch add`` and ``branch list``."""
    parser = sub.add_parser("branch", help="provision and list branches")
    actions = parser.add_subparsers(dest="branch_command", required=True)
    add = actions.add_parser("add", help="record that a branch belongs to a company")
    _store_flags(add)
    add.add_argument("--company", required=True, help="the company id")
    add.add_argument("--branch", required=True, help="the branch id")
    add.add_argument("--name", help="a display name (default: the id)")
    listing = actions.add_parser("list", help="a company's branches")
    _store_flags(listing)
    listing.add_argument("--company", required=True)


def _store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--data-dir", type=Path, help="where the hub keeps its state")
    parser.add_argument("--database-url", help="postgresql://... (default: SQLite in data dir)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chit-hub branch``."""
    flags = {"data_dir": args.data_dir, "database_url": args.database_url}
    settings = settings_from(flags, args.config)
    if args.branch_command == "add":
        return asyncio.run(_add(settings, args.company, args.branch, args.name))
    return asyncio.run(_list(settings, args.company))


async def _add(settings: Settings, company: str, branch: str, name: str | None) -> int:
    try:
        company_room(company), branch_room(branch)
    except RoomNameError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    db = await open_database(settings)
    try:
        async with db.session() as s:
            row = await tenants.ensure_branch(s, branch, company, name)
    except TenantConflict:
        print(f"error: branch {branch!r} already belongs to another company", file=sys.stderr)
        return 1
    finally:
        await db.close()
    print(f"branch {row.id} ({row.name}) belongs to company {row.company_id}")
    return 0


async def _list(settings: Settings, company: str) -> int:
    db = await open_database(settings)
    try:
        async with db.session() as s:
            rows = await tenants.list_branches(s, company)
    finally:
        await db.close()
    for row in rows:
        print(f"{row.id}\t{row.name}")
    return 0
