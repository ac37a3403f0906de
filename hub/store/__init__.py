"""The hub's persistence: one async SQLAlchemy code path for SQLite and PostgreSQL.

``Database`` owns the engine and hands out sessions (one transaction each). The repository
modules are plain async functions taking that session, and return frozen dataclasses, never
ORM objects, so nothing outside a session can lazy-load or write by accident::

    db = await Database.connect(settings.database_url, settings.data_dir)
    async with db.session() as s:
        agent = await agents.get_agent(s, company_id, agent_id)

Modules: tenants (companies, branches), users (+ passwords), agents, printers, printer_tests,
jobs, pairing, audit. Schema changes are Alembic revisions in ``migrations/``, applied by
``Database.connect``.
"""

from __future__ import annotations

from hub.store.db import Database, async_url, url_for
from hub.store.errors import (
    AlreadyExists,
    ConcurrentUpdate,
    IdempotencyConflict,
    NotFound,
    PairingError,
    StoreError,
    TenantConflict,
)

__all__ = [
    "AlreadyExists",
    "ConcurrentUpdate",
    "Database",
    "IdempotencyConflict",
    "NotFound",
    "PairingError",
    "StoreError",
    "TenantConflict",
    "async_url",
    "url_for",
]
