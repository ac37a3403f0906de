"""Pairing a desktop agent: a manager asks for a one-time code, the agent trades it for a token.

Redemption needs no token (the agent has none yet), so failures are counted per address and
all look alike: a guesser learns nothing about which codes exist, were used or expired.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from aiohttp import web

from hub.api.auth import require_tenant
from hub.api.errors import (
    M,
    client_address,
    raise_error,
    rate_limited,
    read_json,
    validated,
)
from hub.context import HubContext, ctx_of
from hub.store import NotFound, PairingError, TenantConflict, agents, audit, pairing, tenants
from hub.store.columns import utcnow
from shared.tokens import Role, mint
from shared.wire import Identifier, ShortText, WireModel

log = logging.getLogger("chit.hub.pairing")
routes = web.RouteTableDef()
ISSUERS = frozenset({Role.MANAGER, Role.ADMIN})
#: A device credential lives as long as the device; revocation (credential_id) ends it earlier.
DEVICE_TTL_SECONDS = int(timedelta(days=3650).total_seconds())
MAX_BODY = 4096
INVALID = "the code is wrong, used or expired"


class CodeRequest(WireModel):
    """Body of POST /api/v1/pairing-codes."""

    branch_id: Identifier


class RedeemRequest(WireModel):
    """Body of POST /api/v1/pairing/redeem."""

    code: ShortText
    agent_id: Identifier
    hostname: ShortText | None = None


def _parse(model: type[M], body: Any) -> M:
    return validated(model, body)


@routes.post("/api/v1/pairing-codes")
async def create_code(request: web.Request) -> web.Response:
    """Issue a one-time pairing code for a branch of the caller's company."""
    ctx = ctx_of(request)
    claims, company = require_tenant(request, ISSUERS)
    body: CodeRequest = _parse(CodeRequest, await read_json(request, MAX_BODY))
    if claims.branch_id is not None and claims.branch_id != body.branch_id:
        raise_error(403, "forbidden_branch", "you may pair agents for your own branch only")
    now = utcnow()
    try:
        async with ctx.db.session() as s:
            await tenants.check_branch(s, company, body.branch_id)
            code = await pairing.create_pairing_code(
                s, company, body.branch_id, claims.sub, now=now
            )
            await audit.record(s, company, claims.sub, "pairing_code.created", body.branch_id)
    except (NotFound, TenantConflict):
        raise_error(404, "not_found", f"no branch {body.branch_id!r} in your company")
    expires = now + pairing.DEFAULT_TTL
    answer = {"code": code, "branchId": body.branch_id, "expiresAt": expires.isoformat()}
    return web.json_response(answer, status=201)


def device_token(ctx: HubContext, agent_id: str, where: pairing.Redeemed, jti: str) -> str:
    """A long-lived desktop token for the agent; ``jti`` is its revocable credential id."""
    audience = ctx.settings.jwt_audience
    return mint(
        ctx.keys.secret,
        sub=agent_id,
        role=Role.DESKTOP_APP,
        company_id=where.company_id,
        branch_id=where.branch_id,
        agent_id=agent_id,
        ttl_seconds=DEVICE_TTL_SECONDS,
        issuer=ctx.settings.jwt_issuer,
        extra={"jti": jti, **({"aud": audience} if audience else {})},
    )


async def _redeem(ctx: HubContext, redeem: RedeemRequest, credential: str) -> pairing.Redeemed:
    """Use the code and record the agent in one transaction (a refused agent keeps the code)."""
    async with ctx.db.session() as s:
        where = await pairing.redeem_pairing_code(s, redeem.code, redeem.agent_id)
        await agents.upsert_agent(
            s,
            redeem.agent_id,
            where.company_id,
            where.branch_id,
            credential,
            hostname=redeem.hostname,
        )
        detail = {"hostname": redeem.hostname, "credentialId": credential}
        await audit.record(
            s, where.company_id, redeem.agent_id, "agent.paired", where.branch_id, detail
        )
    return where


async def _redeem_with_free_id(
    ctx: HubContext, redeem: RedeemRequest, credential: str
) -> tuple[pairing.Redeemed, RedeemRequest]:
    """Redeem; when the agent id is another company's, the hub names the agent itself.

    Answering "taken" would tell the caller that the id exists in another company, so the
    answer has the same shape either way: the agent keeps the ``agentId`` it is given.
    """
    try:
        return await _redeem(ctx, redeem, credential), redeem
    except TenantConflict:
        fresh = redeem.model_copy(update={"agent_id": f"agent-{uuid.uuid4().hex[:12]}"})
        return await _redeem(ctx, fresh, credential), fresh


@routes.post("/api/v1/pairing/redeem")
async def redeem_code(request: web.Request) -> web.Response:
    """Trade a pairing code for a device token (no auth; failures rate-limited per address)."""
    ctx = ctx_of(request)
    remote = client_address(request, ctx.settings.trusted_proxies)
    wait = ctx.redeem_failures.retry_after(remote)
    if wait is not None:
        return rate_limited(wait, "too many wrong pairing codes; try again later")
    redeem: RedeemRequest = _parse(RedeemRequest, await read_json(request, MAX_BODY))
    credential = uuid.uuid4().hex
    try:
        where, redeem = await _redeem_with_free_id(ctx, redeem, credential)
    except PairingError as exc:
        ctx.redeem_failures.fail(remote)
        log.info("pairing refused", extra={"remote": remote, "reason": exc.code})
        raise_error(400, "pairing_code_invalid", INVALID)
    token = device_token(ctx, redeem.agent_id, where, credential)
    answer = {
        "token": token,
        "companyId": where.company_id,
        "branchId": where.branch_id,
        "agentId": redeem.agent_id,
    }
    return web.json_response(answer)
