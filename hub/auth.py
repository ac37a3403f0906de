"""Connect and request authentication: find the bearer token, verify it, check the role."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.settings import Settings
from shared.jwks import PlatformKeySet, key_from_pem
from shared.namespaces import Namespace, may_connect
from shared.tokens import HUB_WIDE_ROLES, Claims, Role, TokenError, TokenKeys, verify
from shared.wire import error_dict


class AuthRefused(Exception):
    """Authentication failed; carries a stable code and a human message."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        #: Seconds the client should wait before trying again (``busy``), when it may.
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, Any]:
        """The ``{"code", "message"[, "retryAfter"]}`` body sent to the client."""
        body = error_dict(self.code, self.message)
        if self.retry_after is not None:
            body["retryAfter"] = round(self.retry_after, 2)
        return body


def load_keys(settings: Settings) -> TokenKeys:
    """Verification keys from settings: the secret, the PEM files, the maps, the leeway.

    With a JWKS URL the keys hold an empty :class:`PlatformKeySet` that the keyring fills.
    Raises ValueError (a bad PEM file or map) or OSError (an unreadable file) at start-up.
    """
    if not settings.jwt_secret:
        raise ValueError("load_keys needs the signing secret (see ensure_secret)")
    return TokenKeys(
        secret=settings.jwt_secret,
        public_keys=tuple(_pem_text(path) for path in settings.public_key_files),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway=settings.jwt_leeway_seconds,
        jwks=PlatformKeySet() if settings.jwks_url else None,
        role_map=settings.role_map,
        claim_map=settings.claim_map,
    )


def _pem_text(path: Path) -> str:
    """The text of a PEM public key file, checked (a bad file names itself at start-up)."""
    text = path.read_text()
    try:
        key_from_pem(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return text


def bearer_from_header(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthRefused("token_malformed", "Authorization header must be 'Bearer <token>'")
    return token.strip()


def token_from_connect(environ: Mapping[str, Any], auth: Any) -> str:
    """The token from the Socket.IO ``auth`` payload, else from the Authorization header."""
    if isinstance(auth, Mapping) and auth.get("token") is not None:
        token = auth["token"]
        if not isinstance(token, str) or not token.strip():
            raise AuthRefused("token_malformed", "auth.token must be a non-empty string")
        return token.strip()
    if auth is not None and not isinstance(auth, Mapping):
        raise AuthRefused("token_malformed", 'auth payload must be an object like {"token": ...}')
    header = bearer_from_header(environ.get("HTTP_AUTHORIZATION"))
    if header is None:
        raise AuthRefused("token_missing", "no token: send auth {token} or an Authorization header")
    return header


def check_token(token: str, keys: TokenKeys) -> Claims:
    """Verify a token, translating contract errors into AuthRefused."""
    try:
        return verify(token, keys)
    except TokenError as exc:
        raise AuthRefused(exc.code, exc.message) from None


def authenticate_connect(
    environ: Mapping[str, Any], auth: Any, namespace: Namespace, keys: TokenKeys
) -> Claims:
    """Authenticate a Socket.IO connect to ``namespace``, or raise AuthRefused."""
    claims = check_token(token_from_connect(environ, auth), keys)
    if not may_connect(namespace, claims.role):
        raise AuthRefused(
            "role_not_allowed", f"role {claims.role} may not connect to namespace {namespace}"
        )
    if claims.company_id is None and claims.role not in HUB_WIDE_ROLES:
        raise AuthRefused("token_claims", "socket clients need a companyId claim")
    return claims


def authenticate_request(header: str | None, keys: TokenKeys, roles: frozenset[Role]) -> Claims:
    """Authenticate an HTTP request's bearer token for one of ``roles``."""
    token = bearer_from_header(header)
    if token is None:
        raise AuthRefused("token_missing", "send an Authorization: Bearer <token> header")
    claims = check_token(token, keys)
    if claims.role not in roles:
        allowed = ", ".join(sorted(roles))
        raise AuthRefused("role_not_allowed", f"role {claims.role} may not do this ({allowed})")
    return claims
