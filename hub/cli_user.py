"""``chit-hub user add``: create a standalone account for the manager web UI.

The password is checked against the same policy as ``POST /api/v1/me/password``
(:func:`hub.store.passwords.policy_problem`). Without ``--password`` it is asked for twice
on a terminal; with no terminal (a script, a pipe) it is read as one line from standard input,
so ``printf '%s\\n' "$PASS" | chit-hub user add ...`` works and never warns about echoing.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import TextIO

from hub.settings import Settings
from hub.startup import open_database, settings_from
from hub.store import AlreadyExists, NotFound, TenantConflict, passwords, tenants, users


class PasswordRefused(Exception):
    """No usable password was given; the message says why."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``user add``."""
    parser = sub.add_parser("user", help="manage accounts that sign in to the web UI")
    actions = parser.add_subparsers(dest="user_command", required=True)
    add = actions.add_parser(
        "add",
        help="create an account",
        description=(
            "Create an account for the manager web UI. Without --password the password is "
            "asked for (or, without a terminal, read as one line from standard input). "
            f"Passwords need at least {passwords.MIN_LENGTH} characters."
        ),
    )
    add.add_argument("--config", type=Path, help="TOML settings file")
    add.add_argument("--data-dir", type=Path, help="where the hub keeps its state")
    add.add_argument("--database-url", help="postgresql://... (default: SQLite in data dir)")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=users.USER_ROLES)
    add.add_argument("--company", required=True, help="the company the account belongs to")
    add.add_argument("--branch", help="limit the account to one branch of the company")
    add.add_argument("--password", help="the password (asked for when left out)")


def read_password(given: str | None, stdin: TextIO | None = None) -> str:
    """The new password: given, typed twice on a terminal, or one line of standard input."""
    stream = stdin or sys.stdin
    if given is not None:
        password = given
    elif stream.isatty():
        password = getpass.getpass("password: ")
        if password != getpass.getpass("password again: "):
            raise PasswordRefused("the passwords differ")
    else:
        password = stream.readline().rstrip("\r\n")
        if not password:
            raise PasswordRefused(
                "no password: give --password, or pipe it on standard input (one line)"
            )
    problem = passwords.policy_problem(password)
    if problem is not None:
        raise PasswordRefused(problem)
    return password


async def _add_user(settings: Settings, args: argparse.Namespace, password: str) -> users.UserRow:
    db = await open_database(settings)
    try:
        async with db.session() as s:
            await tenants.ensure_company(s, args.company)
            if args.branch:
                await tenants.ensure_branch(s, args.branch, args.company)
            return await users.create_user(
                s, args.username, password, args.role, args.company, args.branch
            )
    finally:
        await db.close()


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chit-hub user add``."""
    settings = settings_from(
        {"data_dir": args.data_dir, "database_url": args.database_url}, args.config
    )
    try:
        password = read_password(args.password)
    except PasswordRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except EOFError:
        print("error: no password given", file=sys.stderr)
        return 2
    try:
        row = asyncio.run(_add_user(settings, args, password))
    except (AlreadyExists, NotFound, TenantConflict, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    where = f"company {row.company_id}" + (f", branch {row.branch_id}" if row.branch_id else "")
    print(f"created {row.role} {row.username!r} (id {row.id}) in {where}")
    return 0
