"""The envelopes the platform's backend posts to ``POST /api/v1/events`` (and ``/batch``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

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


#: Most events one ``POST /api/v1/events/batch`` may carry.
MAX_BATCH_EVENTS = 100


class PublishBatch(WireModel):
    """Up to MAX_BATCH_EVENTS envelopes, each validated, published and answered on its own."""

    events: list[PublishRequest] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)
