"""Which company each branch belongs to, so no branch id can route across tenants.

Room names are ``branch:{id}`` with no company in them, so a branch id must never be
claimed by two companies. The directory binds a branch to the first company a trusted
source (a verified token, the service publish API, the store) names for it, and refuses
any later claim by another company.
"""

from __future__ import annotations


class TenantMismatch(Exception):
    """A branch was named with a company it does not belong to."""

    def __init__(self, branch_id: str) -> None:
        super().__init__(f"branch {branch_id!r} belongs to another company")
        self.code = "tenant_mismatch"
        self.message = str(self)


class BranchDirectory:
    """In-process map of branch id -> company id."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}

    def bind(self, branch_id: str, company_id: str) -> None:
        """Record that the branch belongs to the company, or raise TenantMismatch."""
        owner = self._owner.setdefault(branch_id, company_id)
        if owner != company_id:
            raise TenantMismatch(branch_id)

    def company_of(self, branch_id: str) -> str | None:
        """The company that owns a branch, if known."""
        return self._owner.get(branch_id)
