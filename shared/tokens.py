"""Token claims and roles, and signing/verification with PyJWT.

Our own tokens are HS256 with the hub's secret. A platform that already issues RS256 or
ES256 tokens keeps doing so: the hub is given its public key and verifies them as they are.
Claim names follow the platform's (``companyId``, ``branchId``, ``role`` or ``userRole``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from pydantic import ValidationError

from shared.wire import Identifier, WireModel, first_error

HMAC_ALGORITHM = "HS256"
PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256")
DEFAULT_LEEWAY_SECONDS = 30


class Role(StrEnum):
    """Who a token speaks for."""

    DESKTOP_APP = "desktop_app"
    MANAGER = "manager"
    STAFF = "staff"
    ADMIN = "admin"
    SERVICE = "service"
    #: A platform operator: hub-wide monitoring and alerts, no company. Distinct from a
    #: company's ``admin``, who sees only that company.
    OPERATOR = "operator"


WEB_ROLES = frozenset({Role.MANAGER, Role.STAFF, Role.ADMIN})
#: Roles that speak for no company: the platform's backend and its operators.
HUB_WIDE_ROLES = frozenset({Role.SERVICE, Role.OPERATOR})


class Claims(WireModel):
    """The verified content of a token, as the hub uses it."""

    sub: Identifier
    role: Role
    company_id: Identifier | None = None
    branch_id: Identifier | None = None
    exp: float | None = None
    iat: float | None = None
    jti: str | None = None
    #: Set on device credentials: the agent id the token was issued to.
    agent_id: Identifier | None = None


class TokenError(Exception):
    """A token was refused; ``code`` is stable and machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TokenKeys:
    """What verification accepts: our HS256 secret and any configured public keys."""

    secret: str
    public_keys: Sequence[str] = field(default_factory=tuple)
    issuer: str | None = None
    audience: str | None = None
    leeway: int = DEFAULT_LEEWAY_SECONDS


def mint(
    secret: str,
    *,
    sub: str,
    role: Role,
    company_id: str | None = None,
    branch_id: str | None = None,
    ttl_seconds: int = 3600,
    agent_id: str | None = None,
    issuer: str | None = None,
    now: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Sign an HS256 token for the given identity."""
    issued = int(now if now is not None else time.time())
    payload: dict[str, Any] = {
        "sub": sub,
        "role": str(role),
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    optional = {"companyId": company_id, "branchId": branch_id, "agentId": agent_id, "iss": issuer}
    payload.update({k: v for k, v in optional.items() if v is not None})
    payload.update(extra or {})
    return jwt.encode(payload, secret, algorithm=HMAC_ALGORITHM)


def verify(token: str, keys: TokenKeys) -> Claims:
    """Verify a token's signature and expiry and return its claims, or raise TokenError."""
    header = _header(token)
    algorithm = header.get("alg")
    if algorithm == HMAC_ALGORITHM:
        payload = _decode(token, keys.secret, [HMAC_ALGORITHM], keys)
    elif algorithm in PUBLIC_KEY_ALGORITHMS:
        payload = _decode_with_public_keys(token, str(algorithm), keys)
    else:
        raise TokenError("token_algorithm", f"signing algorithm {algorithm!r} is not accepted")
    return _claims(payload)


def _header(token: str) -> dict[str, Any]:
    if not token or token.count(".") != 2:
        raise TokenError("token_malformed", "token is not a JWT (three dot-separated parts)")
    try:
        return dict(jwt.get_unverified_header(token))
    except jwt.DecodeError as exc:
        raise TokenError("token_malformed", f"token header cannot be read: {exc}") from None


def _decode_with_public_keys(token: str, algorithm: str, keys: TokenKeys) -> dict[str, Any]:
    if not keys.public_keys:
        raise TokenError("token_algorithm", f"{algorithm} tokens need a configured public key")
    last: TokenError | None = None
    for key in keys.public_keys:
        try:
            return _decode(token, key, [algorithm], keys)
        except TokenError as exc:
            if exc.code != "token_signature":
                raise
            last = exc
    assert last is not None
    raise last


def _decode(token: str, key: str, algorithms: list[str], keys: TokenKeys) -> dict[str, Any]:
    # sub is checked by our Claims model, which also accepts the numeric ids platforms use.
    options = {
        "require": ["exp", "sub"],
        "verify_aud": keys.audience is not None,
        "verify_sub": False,
    }
    try:
        return dict(
            jwt.decode(
                token,
                key,
                algorithms=algorithms,
                options=options,  # type: ignore[arg-type]
                audience=keys.audience,
                issuer=keys.issuer,
                leeway=keys.leeway,
            )
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token_expired", "token has expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("token_signature", "token signature is not valid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("token_claims", f"token lacks the {exc.claim!r} claim") from None
    except (jwt.InvalidAlgorithmError, ValueError) as exc:
        raise TokenError("token_algorithm", f"token key or algorithm rejected: {exc}") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError("token_invalid", f"token rejected: {exc}") from None


def _claims(payload: dict[str, Any]) -> Claims:
    data = dict(payload)
    if "role" not in data and "userRole" in data:
        data["role"] = data["userRole"]
    known = {"sub", "role", "companyId", "branchId", "exp", "iat", "jti", "agentId"}
    picked = {k: v for k, v in data.items() if k in known}
    # Platforms often use numeric ids; they name the same tenant as their string form.
    for name in ("sub", "companyId", "branchId", "agentId"):
        if isinstance(picked.get(name), int) and not isinstance(picked[name], bool):
            picked[name] = str(picked[name])
    try:
        claims = Claims.model_validate(picked)
    except ValidationError as exc:
        where, message = first_error(exc)
        raise TokenError("token_claims", f"claim {where!r}: {message}") from None
    if claims.role not in HUB_WIDE_ROLES and not claims.company_id:
        raise TokenError("token_claims", f"a {claims.role} token must carry companyId")
    return claims
