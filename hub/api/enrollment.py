"""Enrolment codes for mass roll-out: a manager (or the platform) makes one code for a branch
that up to ``maxUses`` tills redeem until it expires; each till gets its own device token.

Issuing, listing and revoking are tenant-scoped: another company's code id answers 404, like an
unknown one. Redemption needs no token (the till has none yet) and shares the pairing route's
failure budget per address, so a guesser gets no second budget here. Every refusal has one
code and message: wrong, used up, expired or revoked look alike, and so does another company's
code, which is merely a wrong one to this route. An enrolling till never takes over an agent
id that exists (in any company): the hub names it afresh instead, so a leaked code cannot
unseat a till that already prints.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from hub.api.auth import require_tenant
from hub.api.errors import client_address, raise_error, rate_limited, read_json, validated
from hub.api.pairing import MAX_BODY, RedeemRequest, device_token
from hub.context import HubContext, ctx_of
from hub.store import NotFound, TenantConflict, agents, audit, enrollment, tenants
from hub.store.columns import utcnow
from hub.store.errors import EnrollmentError
from shared.tokens import Role
from shared.wire import Identifier, WireModel

log = logging.getLogger("chit.hub.enrollment")
routes = web.RouteTableDef()
ISSUERS = frozenset({Role.MANAGER, Role.ADMIN, Role.SERVICE})
INVALID = (
    "this enrolment code cannot be used: it is wrong, used up, expired or revoked; "
    "ask your Chit manager for a new one"
)
#: Bounds of a code: a roll-out of up to 10 000 tills, alive from a minute to 90 days.
MAX_USES = 10_000
MIN_TTL, MAX_TTL = 60, int(timedelta(days=90).total_seconds())


class EnrollmentCodeRequest(WireModel):
    """Body of POST /api/v1/enrollment-codes: which branch, how many tills, for how long."""

    branch_id: Identifier
    max_uses: Annotated[int, Field(ge=1, le=MAX_USES)]
    #: Seconds from now until the code stops working.
    expires_in: Annotated[int, Field(ge=MIN_TTL, le=MAX_TTL)]


class EnrollRequest(RedeemRequest):
    """Body of POST /api/v1/enrollment/redeem (the same fields as a pairing redemption)."""


def code_view(row: enrollment.EnrollmentRow, now: datetime) -> dict[str, Any]:
    """An enrolment code as the API shows it (the code itself only once, at creation)."""
    return {
        "codeId": row.id,
        "branchId": row.branch_id,
        "maxUses": row.max_uses,
        "uses": row.uses,
        "state": row.state(now),
        "createdBy": row.created_by,
        "createdAt": row.created_at.isoformat(),
        "expiresAt": row.expires_at.isoformat(),
        "lastUsedAt": row.last_used_at.isoformat() if row.last_used_at else None,
        "revokedAt": row.revoked_at.isoformat() if row.revoked_at else None,
    }


@routes.post("/api/v1/enrollment-codes")
async def create_code(request: web.Request) -> web.Response:
    """Issue an enrolment code for a branch of the caller's company."""
    ctx = ctx_of(request)
    claims, company = require_tenant(request, ISSUERS)
    body = validated(EnrollmentCodeRequest, await read_json(request, MAX_BODY))
    if claims.branch_id is not None and claims.branch_id != body.branch_id:
        raise_error(403, "forbidden_branch", "you may enrol agents for your own branch only")
    now = utcnow()
    ttl = timedelta(seconds=body.expires_in)
    try:
        async with ctx.db.session() as s:
            await tenants.check_branch(s, company, body.branch_id)
            code, row = await enrollment.create_code(
                s, company, body.branch_id, claims.sub, body.max_uses, ttl, now=now
            )
            detail = {"codeId": row.id, "maxUses": row.max_uses}
            await audit.record(
                s, company, claims.sub, "enrollment_code.created", body.branch_id, detail
            )
    except (NotFound, TenantConflict):
        raise_error(404, "not_found", f"no branch {body.branch_id!r} in your company")
    return web.json_response({"code": code, **code_view(row, now)}, status=201)


@routes.get("/api/v1/enrollment-codes")
async def list_codes(request: web.Request) -> web.Response:
    """The company's enrolment codes (a branch token: its branch's), newest first."""
    ctx = ctx_of(request)
    claims, company = require_tenant(request, ISSUERS)
    branch = claims.branch_id or request.query.get("branchId")
    async with ctx.db.session() as s:
        rows = await enrollment.list_codes(s, company, branch)
    now = utcnow()
    return web.json_response({"enrollmentCodes": [code_view(row, now) for row in rows]})


@routes.post("/api/v1/enrollment-codes/{code_id}/revoke")
async def revoke_code(request: web.Request) -> web.Response:
    """Stop a code from enrolling more tills; those it enrolled keep their credentials."""
    ctx = ctx_of(request)
    claims, company = require_tenant(request, ISSUERS)
    code_id = request.match_info["code_id"]
    async with ctx.db.session() as s:
        row = await enrollment.get_code(s, company, code_id)
        if row is None or (claims.branch_id is not None and row.branch_id != claims.branch_id):
            raise_error(404, "not_found", "no such enrolment code")
        row = await enrollment.revoke_code(s, company, code_id)
        assert row is not None
        await audit.record(s, company, claims.sub, "enrollment_code.revoked", row.branch_id)
    return web.json_response(code_view(row, utcnow()))


async def _enrol(
    ctx: HubContext, redeem: EnrollRequest, credential: str
) -> tuple[enrollment.Enrolled, str]:
    """Use the code and record a new agent in one transaction; (where, the agent's id)."""
    async with ctx.db.session() as s:
        where = await enrollment.redeem_code(s, redeem.code)
        agent_id = redeem.agent_id
        if await agents.exists(s, agent_id):
            agent_id = f"agent-{uuid.uuid4().hex[:12]}"
        await agents.upsert_agent(
            s, agent_id, where.company_id, where.branch_id, credential, hostname=redeem.hostname
        )
        detail = {"hostname": redeem.hostname, "credentialId": credential, "codeId": where.code_id}
        await audit.record(s, where.company_id, agent_id, "agent.enrolled", where.branch_id, detail)
    return where, agent_id


@routes.post("/api/v1/enrollment/redeem")
async def redeem_code(request: web.Request) -> web.Response:
    """Trade an enrolment code for this till's own device token (no auth; rate-limited)."""
    ctx = ctx_of(request)
    remote = client_address(request, ctx.settings.trusted_proxies)
    wait = ctx.redeem_failures.retry_after(remote)
    if wait is not None:
        return rate_limited(wait, "too many wrong codes from this address; try again later")
    redeem = validated(EnrollRequest, await read_json(request, MAX_BODY))
    credential = uuid.uuid4().hex
    try:
        where, agent_id = await _enrol(ctx, redeem, credential)
    except EnrollmentError as exc:
        ctx.redeem_failures.fail(remote)
        log.info("enrolment refused", extra={"remote": remote, "reason": exc.code})
        raise_error(400, "enrollment_code_invalid", INVALID)
    log.info("agent enrolled", extra={"agent_id": agent_id, "code_id": where.code_id})
    answer = {
        "token": device_token(ctx, agent_id, where, credential),
        "companyId": where.company_id,
        "branchId": where.branch_id,
        "agentId": agent_id,
    }
    return web.json_response(answer)
