"""First start: create an admin account so a fresh hub can be signed in to at all.

It runs once. A marker file in the data directory records that it ran, and a hub that
already has users never creates one, so several instances sharing a database stay quiet.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

from hub.store import AlreadyExists, Database, tenants, users

MARKER_FILE = "bootstrap-done"
ADMIN_USERNAME = "admin"
DEFAULT_COMPANY = "default"


@dataclass(frozen=True)
class FirstAdmin:
    """The credentials of the account created at first start (shown once, never stored)."""

    username: str
    password: str
    company_id: str


async def bootstrap_admin(db: Database, data_dir: Path) -> FirstAdmin | None:
    """Create the first admin when the hub has no users and never did this; else None."""
    marker = data_dir / MARKER_FILE
    if await asyncio.to_thread(marker.exists):
        return None
    password = secrets.token_urlsafe(18)
    try:
        async with db.session() as s:
            if await users.count_users(s) > 0:
                created = None
            else:
                await tenants.ensure_company(s, DEFAULT_COMPANY)
                await users.create_user(s, ADMIN_USERNAME, password, "admin", DEFAULT_COMPANY)
                created = FirstAdmin(ADMIN_USERNAME, password, DEFAULT_COMPANY)
    except AlreadyExists:  # another instance won the race
        created = None
    await asyncio.to_thread(_mark, marker)
    return created


def _mark(marker: Path) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    marker.write_text("the first admin account was offered; delete to offer again\n")
