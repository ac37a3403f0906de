"""Sign-in for standalone accounts (users kept by the hub) and the caller's own claims."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StringConstraints

from hub.api.auth import require
from hub.api.errors import client_address, raise_error, rate_limited, read_json, validated
from hub.context import HubContext, ctx_of
from hub.store import passwords, users
from shared.tokens import Role, mint
from shared.wire import Secret, ShortText, WireModel

routes = web.RouteTableDef()
#: Sessions are short-lived: a stolen token is worth a working day at most.
SESSION_TTL_SECONDS = 8 * 3600
MAX_LOGIN_BODY = 4096
_ALL_ROLES = frozenset(Role)
MIN_PASSWORD = 10


class LoginRequest(WireModel):
    """Body of ``POST /api/v1/auth/login``."""

    username: Annotated[ShortText, StringConstraints(min_length=1)]
    password: Secret


def _credentials(body: Any) -> tuple[str, str]:
    login = validated(LoginRequest, body)
    return login.username, login.password


def _session_token(ctx: HubContext, user: users.UserRow) -> str:
    audience = ctx.settings.jwt_audience
    return mint(
        ctx.keys.secret,
        sub=user.id,
        role=Role(user.role),
        company_id=user.company_id,
        branch_id=user.branch_id,
        ttl_seconds=SESSION_TTL_SECONDS,
        issuer=ctx.settings.jwt_issuer,
        extra={"aud": audience} if audience else None,
    )


def _user_view(user: users.UserRow) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "companyId": user.company_id,
        "branchId": user.branch_id,
    }


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    """Exchange a username and password for a short-lived session token."""
    ctx = ctx_of(request)
    username, password = _credentials(await read_json(request, MAX_LOGIN_BODY))
    remote = client_address(request, ctx.settings.trusted_proxies)
    key = f"{users.normalize_username(username)}|{remote}"
    wait = ctx.login_failures.retry_after(key)
    if wait is not None:
        return rate_limited(wait, "too many failed sign-ins; try again later")
    async with ctx.db.session() as s:
        # The store hashes in a thread, and spends the same time on unknown users.
        user = await users.authenticate(s, username, password)
    if user is None:
        ctx.login_failures.fail(key)
        raise_error(401, "invalid_credentials", "the username or password is wrong")
    ctx.login_failures.reset(key)
    token = _session_token(ctx, user)
    return web.json_response(
        {"token": token, "expiresIn": SESSION_TTL_SECONDS, "user": _user_view(user)}
    )


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    """The verified claims of the caller's token."""
    return web.json_response(require(request, _ALL_ROLES).to_wire())


@routes.post("/api/v1/me/password")
async def change_password(request: web.Request) -> web.Response:
    """Change the caller's own password (standalone accounts), given the current one."""
    ctx = ctx_of(request)
    claims = require(request, _ALL_ROLES)
    body = await read_json(request, MAX_LOGIN_BODY)
    current, new = _passwords(body)
    async with ctx.db.session() as s:
        user = await users.get_user(s, claims.sub)
        if user is None:
            raise_error(404, "not_found", "this token does not belong to a hub account")
        key = f"{user.username}|{client_address(request, ctx.settings.trusted_proxies)}"
        wait = ctx.login_failures.retry_after(key)
        if wait is not None:
            return rate_limited(wait, "too many failed attempts; try again later")
        if await users.authenticate(s, user.username, current) is None:
            ctx.login_failures.fail(key)
            raise_error(403, "invalid_credentials", "the current password is wrong")
        await users.set_password(s, user.id, new)
    return web.json_response({"ok": True})


class PasswordChange(WireModel):
    """Body of ``POST /api/v1/me/password``."""

    current_password: Secret
    #: The length rule is checked by the route (code ``weak_password``), documented here.
    new_password: Annotated[
        Secret,
        Field(
            json_schema_extra={
                "minLength": passwords.MIN_LENGTH,
                "maxLength": passwords.MAX_LENGTH,
            }
        ),
    ]


def _passwords(body: Any) -> tuple[str, str]:
    change = validated(PasswordChange, body)
    problem = passwords.policy_problem(change.new_password)
    if problem is not None:
        raise_error(422, "weak_password", problem, "newPassword")
    return change.current_password, change.new_password
