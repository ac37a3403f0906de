"""Which company each branch belongs to, read from the database on every instance.

Room names are ``branch:{id}`` with no company in them, so a branch id must never route
across tenants. The ``branches`` table is the one truth: a branch exists only once it was
provisioned (by an operator's CLI, a company manager, or the platform's service token over
REST), and every connect and publish that names a branch is checked against it. Nothing binds
a branch because somebody named it first.

The directory caches what it found. Ownership of a branch never changes once written (branches
are not deleted or moved), so a positive answer is safe to keep on every instance; an unknown
branch is never cached, so a branch provisioned through another instance is seen at once.
"""

from __future__ import annotations

from collections import OrderedDict

from hub.services.batching import KeyedBatcher
from hub.store import Database
from hub.store import tenants as tenant_store

#: Branches whose owner is kept in memory per instance (each entry is two short strings).
CACHE_SIZE = 100_000


class UnknownBranch(Exception):
    """A branch that is not the caller's: unknown, or another company's (the same to a caller)."""

    code = "unknown_branch"

    def __init__(self, branch_id: str) -> None:
        self.message = f"branch {branch_id!r} is not a branch of your company"
        super().__init__(self.message)
        self.branch_id = branch_id


class BranchDirectory:
    """Read-through cache of branch id -> company id over the ``branches`` table."""

    def __init__(self, db: Database, size: int = CACHE_SIZE) -> None:
        self._db = db
        self._size = size
        self._owner: OrderedDict[str, str] = OrderedDict()
        #: Misses asked in one loop turn share one query: after a restart every client of a
        #: branch connects at once, and a session each emptied the pool (QueuePool timeouts).
        self._misses: KeyedBatcher[str, str | None] = KeyedBatcher(self._owners_of, None)

    async def company_of(self, branch_id: str) -> str | None:
        """The company that owns a branch, or None when no such branch was provisioned."""
        owner = self._owner.get(branch_id)
        if owner is not None:
            self._owner.move_to_end(branch_id)
            return owner
        owner = await self._misses.get(branch_id)
        if owner is not None:
            self.learn(branch_id, owner)
        return owner

    async def _owners_of(self, branch_ids: list[str]) -> dict[str, str | None]:
        async with self._db.session() as s:
            found = await tenant_store.branch_companies(s, branch_ids)
        return dict(found)

    async def check(self, company_id: str, branch_id: str) -> None:
        """Raise UnknownBranch unless the branch is provisioned and belongs to the company."""
        if await self.company_of(branch_id) != company_id:
            raise UnknownBranch(branch_id)

    def learn(self, branch_id: str, company_id: str) -> None:
        """Remember an owner read from (or just written to) the database."""
        self._owner[branch_id] = company_id
        self._owner.move_to_end(branch_id)
        while len(self._owner) > self._size:
            self._owner.popitem(last=False)
