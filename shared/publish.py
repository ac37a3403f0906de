"""The envelope the platform's backend posts to ``POST /api/v1/events``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints

from shared.namespaces import Namespace
from shared.wire import Identifier, ShortText, WireModel

#: A publisher's id for one event: publishing the same id again (within the stream's
#: retention) answers with the first answer and broadcasts nothing.
EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]


class PublishRequest(WireModel):
    """Publish one catalog event to a company (and optionally one of its branches)."""

    namespace: Namespace
    event: ShortText
    company_id: Identifier
    branch_id: Identifier | None = None
    event_id: EventId | None = None
    payload: dict[str, Any]


#: Payload fields that name a tenant. When present they must agree with the envelope, so a
#: payload can never claim another tenant than the one it is routed to.
TENANT_FIELDS = {"companyId": "company_id", "branchId": "branch_id"}
