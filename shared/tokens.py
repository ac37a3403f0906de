"""Token claims and roles, and signing/verification with PyJWT.

Our own tokens are HS256 with the hub's secret. A platform that already issues RS256, ES256 or
EdDSA tokens keeps doing so: the hub is given its public keys (PEM files, or a JWKS whose keys
are picked by ``kid``) and verifies its tokens as they are. Claim names follow the platform's
(``companyId``, ``branchId``, ``role`` or ``userRole``); a platform whose names or roles differ
maps them with ``claim_map`` and ``role_map``, which apply to platform-signed tokens only (the
hub's own tokens always use Chit's names).

Every refusal is a :class:`TokenError` with a stable code and a message for people: whatever a
token holds, :func:`verify` raises nothing else, and no message quotes a decoder.
"""

from __future__ import annotations

import binascii
import math
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.types import Options
from pydantic import ValidationError

from shared.jwks import PUBLIC_KEY_ALGORITHMS, PlatformKey, PlatformKeySet, key_from_pem
from shared.roles import HUB_WIDE_ROLES, WEB_ROLES, Role
from shared.wire import Identifier, WireModel, first_error

__all__ = ["HUB_WIDE_ROLES", "PUBLIC_KEY_ALGORITHMS", "WEB_ROLES", "PlatformKeySet", "Role"]

HMAC_ALGORITHM = "HS256"
#: Clock skew allowed on ``exp``, ``nbf`` and ``iat`` (seconds); the ``jwt_leeway_seconds`` setting.
DEFAULT_LEEWAY_SECONDS = 30
#: Longest token read at all (characters). Real tokens are well under 4 KiB. Under aiohttp's
#: 8190-byte header line limit, so REST and socket callers meet the same limit and code
#: (precedents: nginx 8 KiB per header line, node.js 16 KiB for all headers).
MAX_TOKEN_CHARS = 8000
NOT_A_JWT = "the token is not a valid JWT"


#: Chit's claim names a platform may rename (``claim_map``), and where they are read by default.
DEFAULT_CLAIM_SOURCES: Mapping[str, tuple[str, ...]] = {
    "sub": ("sub",),
    "role": ("role", "userRole"),
    "companyId": ("companyId",),
    "branchId": ("branchId",),
}


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


def role_map_of(raw: Mapping[str, Any]) -> dict[str, Role]:
    """A platform role -> Chit role table, or ValueError naming the first bad entry."""
    table: dict[str, Role] = {}
    for platform_role, chit_role in raw.items():
        if chit_role not in Role.__members__.values():
            known = ", ".join(role.value for role in Role)
            raise ValueError(
                f"role_map: {platform_role!r} maps to {chit_role!r}, not one of {known}"
            )
        table[str(platform_role)] = Role(chit_role)
    return table


def claim_map_of(raw: Mapping[str, Any]) -> dict[str, str]:
    """A Chit claim -> platform claim name table, or ValueError naming the first bad entry."""
    for chit_claim, platform_claim in raw.items():
        if chit_claim not in DEFAULT_CLAIM_SOURCES:
            known = ", ".join(DEFAULT_CLAIM_SOURCES)
            raise ValueError(f"claim_map: {chit_claim!r} is not a claim it maps ({known})")
        if not isinstance(platform_claim, str) or not platform_claim:
            raise ValueError(f"claim_map: {chit_claim!r} must name a claim (a non-empty string)")
    return {str(k): str(v) for k, v in raw.items()}


@dataclass(frozen=True)
class TokenKeys:
    """What verification accepts: our HS256 secret and the platform's keys and names."""

    secret: str
    #: PEM texts of public keys (RSA, EC P-256, Ed25519), each verifying one algorithm.
    public_keys: Sequence[str] = field(default_factory=tuple)
    issuer: str | None = None
    audience: str | None = None
    leeway: int = DEFAULT_LEEWAY_SECONDS
    #: Keys from the platform's JWKS, by kid; None when no JWKS is configured.
    jwks: PlatformKeySet | None = None
    role_map: Mapping[str, str] = field(default_factory=dict)
    claim_map: Mapping[str, str] = field(default_factory=dict)
    pem_keys: tuple[PlatformKey, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Parse the PEM keys and check the maps once, so a bad setting fails at start-up."""
        object.__setattr__(self, "pem_keys", tuple(key_from_pem(p) for p in self.public_keys))
        object.__setattr__(self, "role_map", role_map_of(self.role_map))
        object.__setattr__(self, "claim_map", claim_map_of(self.claim_map))


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


#: What PyJWT and the key libraries raise besides PyJWTError on hostile input: bad base64
#: (binascii.Error), bad UTF-8 and JSON (ValueError), numbers beyond float (OverflowError),
#: deep nesting (RecursionError), odd types (TypeError, KeyError).
_DATA_ERRORS: tuple[type[Exception], ...] = (
    binascii.Error,
    ValueError,
    TypeError,
    KeyError,
    OverflowError,
    RecursionError,
)
_HEADER_ERRORS: tuple[type[Exception], ...] = (jwt.PyJWTError, *_DATA_ERRORS)

# Times are checked by _check_times (numbers only, one leeway); claim names by _claims.
_OPTIONS: Options = {
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_sub": False,
    "require": [],
}

#: PyJWT's refusals, most specific first (InvalidSignatureError is a DecodeError).
_REFUSALS: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
    (jwt.InvalidSignatureError, "token_signature", "token signature is not valid"),
    (jwt.InvalidAudienceError, "token_claims", "the token is not meant for this hub (aud)"),
    (jwt.InvalidIssuerError, "token_claims", "the token's issuer (iss) is not accepted"),
    (jwt.exceptions.InvalidJTIError, "token_claims", "claim 'jti' must be a string"),
    (jwt.InvalidKeyError, "token_algorithm", "the configured key does not fit the token's alg"),
    (jwt.InvalidAlgorithmError, "token_algorithm", "the token's signing algorithm is refused"),
    (jwt.DecodeError, "token_malformed", NOT_A_JWT),
    (jwt.PyJWTError, "token_invalid", "the token is not valid"),
)


def verify(token: str, keys: TokenKeys, *, now: float | None = None) -> Claims:
    """Verify a token's signature, times and claims and return them, or raise TokenError."""
    header = read_header(token)
    algorithm = header.get("alg")
    if algorithm == HMAC_ALGORITHM:
        payload = _decode(token, PlatformKey(HMAC_ALGORITHM, keys.secret), keys)
    elif algorithm in PUBLIC_KEY_ALGORITHMS:
        payload = _decode_with_platform_keys(token, header, keys)
    else:
        raise TokenError(
            "token_algorithm", f"signing algorithm {_shown(algorithm)} is not accepted"
        )
    _check_times(payload, time.time() if now is None else now, keys.leeway)
    return _claims(payload, keys, platform=algorithm != HMAC_ALGORITHM)


def read_header(token: object) -> dict[str, Any]:
    """The unverified header of a well-formed JWT, or TokenError ``token_malformed``."""
    if not isinstance(token, str) or not token:
        raise TokenError("token_malformed", "the token is empty")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError(
            "token_malformed", f"the token is longer than {MAX_TOKEN_CHARS} characters"
        )
    if not token.isascii() or token.count(".") != 2:
        raise TokenError("token_malformed", f"{NOT_A_JWT} (three dot-separated base64url parts)")
    try:
        return dict(jwt.get_unverified_header(token))
    except jwt.DecodeError:
        raise TokenError("token_malformed", NOT_A_JWT) from None
    except _HEADER_ERRORS:
        # PyJWT checks crit (RFC 7515 §4.1.11: unknown extensions must be refused) and kid.
        message = f"{NOT_A_JWT}: its header has an unsupported 'crit' or a 'kid' that is no string"
        raise TokenError("token_malformed", message) from None


def unknown_kid(token: str, keys: TokenKeys) -> str | None:
    """The ``kid`` of a platform-signed token that no JWKS key has: a reason to refetch."""
    if keys.jwks is None:
        return None
    try:
        header = read_header(token)
    except TokenError:
        return None
    kid = header.get("kid")
    if header.get("alg") not in PUBLIC_KEY_ALGORITHMS or not isinstance(kid, str):
        return None
    return kid if keys.jwks.find(kid) is None else None


def _decode_with_platform_keys(
    token: str, header: dict[str, Any], keys: TokenKeys
) -> dict[str, Any]:
    algorithm, kid = str(header["alg"]), header.get("kid")
    named = keys.jwks.find(str(kid)) if kid is not None and keys.jwks is not None else None
    for key in _candidates(algorithm, kid, named, keys):
        try:
            return _decode(token, key, keys)
        except TokenError as exc:
            if exc.code != "token_signature":
                raise
    if kid is not None and keys.jwks is not None and named is None:
        # The kid names no JWKS key, and no PEM key verified the token either.
        raise _unknown_key(kid)
    raise TokenError("token_signature", "token signature is not valid")


def _candidates(
    algorithm: str, kid: Any, named: PlatformKey | None, keys: TokenKeys
) -> list[PlatformKey]:
    """The keys that may verify a token: the one its kid names, else every key of its alg."""
    if named is not None:
        if named.algorithm != algorithm:
            message = f"key {_shown(kid)} verifies {named.algorithm} tokens, not {algorithm}"
            raise TokenError("token_algorithm", message)
        return [named]
    by_kid = kid is not None and keys.jwks is not None
    jwks_keys = () if keys.jwks is None else keys.jwks.unnamed if by_kid else keys.jwks.keys
    fitting = [key for key in (*keys.pem_keys, *jwks_keys) if key.algorithm == algorithm]
    if fitting:
        return fitting
    if by_kid:
        raise _unknown_key(kid)
    raise TokenError("token_algorithm", f"no configured platform key verifies {algorithm} tokens")


def _unknown_key(kid: Any) -> TokenError:
    return TokenError("token_unknown_key", f"no platform key has kid {_shown(kid)}")


def _decode(token: str, key: PlatformKey, keys: TokenKeys) -> dict[str, Any]:
    options: Options = {**_OPTIONS, "verify_aud": keys.audience is not None}
    try:
        payload = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm],
            options=options,
            audience=keys.audience,
            issuer=keys.issuer,
        )
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("token_claims", f"token lacks the {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        code, message = next((c, m) for kind, c, m in _REFUSALS if isinstance(exc, kind))
        raise TokenError(code, message) from None
    except _DATA_ERRORS:
        raise TokenError("token_malformed", NOT_A_JWT) from None
    return dict(payload)


def _check_times(payload: Mapping[str, Any], now: float, leeway: float) -> None:
    """``exp`` is required; ``exp``, ``nbf`` and ``iat`` must be numbers (a string is malformed)."""
    for name in ("exp", "nbf", "iat"):
        if name in payload and not _is_time(payload[name]):
            message = f"claim {name!r} must be a number of seconds since the epoch"
            raise TokenError("token_claims", message)
    if "exp" not in payload:
        raise TokenError("token_claims", "token lacks the 'exp' claim")
    if payload["exp"] <= now - leeway:
        raise TokenError("token_expired", "token has expired")
    for name in ("nbf", "iat"):
        if name in payload and payload[name] > now + leeway:
            raise TokenError("token_not_yet_valid", f"the token is not valid yet ({name})")


def _is_time(value: Any) -> bool:
    """A finite number that fits a float exactly (JSON allows 1e400 and 10**400)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < _MAX_EXACT_INT
    return isinstance(value, float) and math.isfinite(value)


_MAX_EXACT_INT = 2**53


def _claims(payload: Mapping[str, Any], keys: TokenKeys, *, platform: bool) -> Claims:
    picked = _pick(payload, keys.claim_map if platform else {})
    if platform and keys.role_map:
        picked["role"] = _mapped_role(picked.get("role"), keys.role_map)
    for name in ("companyId", "branchId"):  # one copy per tenant, not per connection
        if isinstance(picked.get(name), str):
            picked[name] = sys.intern(picked[name])
    try:
        claims = Claims.model_validate(picked)
    except ValidationError as exc:
        where, message = first_error(exc)
        raise TokenError("token_claims", f"claim {where!r}: {message}") from None
    if claims.role not in HUB_WIDE_ROLES and not claims.company_id:
        raise TokenError("token_claims", f"a {claims.role} token must carry companyId")
    return _shared_field_set(claims)


#: The sets of fields Claims were made with, one per shape of token (a handful).
_FIELD_SETS: dict[frozenset[str], set[str]] = {}


def _shared_field_set(claims: Claims) -> Claims:
    """``claims`` with pydantic's record of its set fields shared among tokens of its shape.

    Every connection keeps its Claims for its life, and pydantic gives each instance its own
    set of the field names it was given: 728 of the 1,242 bytes a Claims takes (issue 14,
    memory per idle connection). The model is frozen, so nothing adds to that set; a copy
    (``model_copy``) gets a set of its own.
    """
    fields = frozenset(claims.model_fields_set)
    shared = _FIELD_SETS.get(fields)
    if shared is None:
        if len(_FIELD_SETS) >= 64:  # token shapes are few; never grow without bound
            return claims
        shared = _FIELD_SETS.setdefault(fields, set(fields))
    object.__setattr__(claims, "__pydantic_fields_set__", shared)
    return claims


def _pick(payload: Mapping[str, Any], claim_map: Mapping[str, str]) -> dict[str, Any]:
    """The claims Chit reads, under Chit's names; numeric ids become their string form."""
    picked = {k: payload[k] for k in ("exp", "iat", "jti", "agentId") if k in payload}
    for name, default_sources in DEFAULT_CLAIM_SOURCES.items():
        sources = (claim_map[name],) if name in claim_map else default_sources
        found = next((payload[s] for s in sources if s in payload), None)
        if found is not None:
            picked[name] = found
    for name in ("sub", "companyId", "branchId", "agentId"):
        # Platforms often use numeric ids; they name the same tenant as their string form.
        if isinstance(picked.get(name), int) and not isinstance(picked[name], bool):
            picked[name] = str(picked[name])
    return picked


def _mapped_role(platform_role: Any, role_map: Mapping[str, str]) -> str:
    if isinstance(platform_role, str) and platform_role in role_map:
        return role_map[platform_role]
    raise TokenError("token_claims", f"role {_shown(platform_role)} is not one role_map names")


def _shown(value: Any, limit: int = 40) -> str:
    """A token's value quoted in a message: repr, cut short (messages stay small and safe)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
