"""Recent printer tests over REST: what was test-printed, where, and how it went.

Test prints are not print jobs (they never queue or retry), so they have their own list; the
branch page shows it beside the print jobs. A branch-scoped caller sees its own branch only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.api.auth import require_tenant
from hub.api.errors import raise_error
from hub.context import ctx_of
from hub.store.printer_tests import PrinterTestRow
from shared.tokens import WEB_ROLES, Role

routes = web.RouteTableDef()
READERS = frozenset({*WEB_ROLES, Role.SERVICE})
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_QUERY = {"branchId", "limit"}


def test_view(row: PrinterTestRow) -> dict[str, Any]:
    """A test as the API shows it; ``state`` is pending, printed or failed."""
    state = "pending" if row.success is None else "printed" if row.success else "failed"
    error = {"code": row.error_code, "message": row.error_message} if row.error_code else None
    return {
        "correlationId": row.correlation_id,
        "printerId": row.printer_id,
        "agentId": row.agent_id,
        "state": state,
        "success": row.success,
        "error": error,
        "status": row.status,
        "durationMs": row.duration_ms,
        "requestedBy": row.requested_by,
        "requestedAt": row.requested_at.isoformat() if row.requested_at else None,
        "completedAt": row.completed_at.isoformat() if row.completed_at else None,
    }


def _limit(query: Any) -> int:
    unknown = set(query) - _QUERY
    if unknown:
        raise_error(422, "invalid_query", f"unknown query parameters: {sorted(unknown)}")
    text = query.get("limit", str(DEFAULT_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise_error(422, "invalid_query", f"limit must be 1 to {MAX_LIMIT}", "limit")
    return int(text)


@routes.get("/api/v1/tests")
async def list_tests(request: web.Request) -> web.Response:
    """The latest printer tests of the caller's company or branch, newest first."""
    ctx = ctx_of(request)
    claims, company = require_tenant(request, READERS)
    limit = _limit(request.query)
    branch = claims.branch_id or request.query.get("branchId")
    rows = await ctx.printing.records.recent_tests(company, branch, limit)
    return web.json_response({"tests": [test_view(row) for row in rows]})
