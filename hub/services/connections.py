"""The live sessions of this hub instance: who is connected where, with which claims."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from shared.namespaces import Namespace
from shared.tokens import Claims, Role


@dataclass
class ClientSession:
    """One authenticated socket on one namespace."""

    sid: str
    namespace: Namespace
    claims: Claims
    remote: str | None = None
    connected_at: float = field(default_factory=time.time)

    @property
    def role(self) -> Role:
        """The client's role."""
        return self.claims.role

    @property
    def company_id(self) -> str:
        """The client's company (socket clients always have one)."""
        assert self.claims.company_id is not None
        return self.claims.company_id

    @property
    def branch_id(self) -> str | None:
        """The client's branch, when its token is branch-scoped."""
        return self.claims.branch_id

    def log_fields(self) -> dict[str, str | None]:
        """The fields every connection log line carries."""
        return {
            "sid": self.sid,
            "namespace": str(self.namespace),
            "role": str(self.role),
            "company": self.claims.company_id,
            "branch": self.branch_id,
        }


class ConnectionRegistry:
    """Sessions by (namespace, sid)."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[Namespace, str], ClientSession] = {}

    def add(self, session: ClientSession) -> None:
        """Remember a newly authenticated session."""
        self._sessions[(session.namespace, session.sid)] = session

    def remove(self, namespace: Namespace, sid: str) -> ClientSession | None:
        """Forget a session; returns it if it was known."""
        return self._sessions.pop((namespace, sid), None)

    def get(self, namespace: Namespace, sid: str) -> ClientSession | None:
        """The session of a sid on a namespace."""
        return self._sessions.get((namespace, sid))

    def __iter__(self) -> Iterator[ClientSession]:
        return iter(list(self._sessions.values()))

    def __len__(self) -> int:
        return len(self._sessions)

    def count_by_namespace(self) -> Counter[str]:
        """Connections per namespace."""
        return Counter(str(s.namespace) for s in self)
