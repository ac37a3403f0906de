"""Malformed and hostile tokens, each with the refusal code the hub must answer.

Shared by the contract tests (``verify``) and the wire tests (REST 401s, connect_error). The
verifying side is expected to hold ``secret`` and, as its only public key, an RSA key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from shared.tokens import MAX_TOKEN_CHARS, Role, mint

#: Phrases of Python's decoders that a refusal must never quote.
DECODER_PHRASES = (
    "codec",
    "decode byte",
    "Expecting",
    "line 1 column",
    "char ",
    "padding",
    "Traceback",
)


def b64(data: bytes) -> str:
    """base64url without padding, as JWTs use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_hs256(secret: str, header: bytes, payload: bytes) -> str:
    """A token whose header and payload are raw bytes (any content), validly HS256-signed."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def _longer_than(limit: int, make: Callable[..., str]) -> str:
    """A token a little longer than ``limit``: refused by the hub, yet a header aiohttp reads."""
    size = limit * 3 // 4 - 100
    while len(token := make(x="a" * size)) <= limit:
        size += 10
    return token


def hostile_tokens(secret: str) -> list[tuple[str, str, str]]:
    """(name, token, expected code) for every kind of malformed token we know of."""
    # Built at collection time and used minutes later in a long run: a week of validity.
    claims = {"sub": "u", "role": "manager", "companyId": "c", "exp": int(time.time()) + 7 * 86400}
    hs = b'{"alg":"HS256","typ":"JWT"}'
    good = json.dumps(claims).encode()
    now = int(time.time())

    def hs256(**extra: object) -> str:
        return jwt.encode({**claims, **extra}, secret, algorithm="HS256")

    def without(name: str) -> str:
        return jwt.encode({k: v for k, v in claims.items() if k != name}, secret)

    es256 = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    crit = jwt.encode(claims, secret, algorithm="HS256", headers={"crit": ["exp"]})
    huge_exp = b'{"sub": "u", "role": "staff", "companyId": "c", "exp": 1' + b"0" * 400 + b"}"
    return [
        ("es256-while-hub-holds-rsa", es256, "token_algorithm"),
        ("hs384", jwt.encode(claims, secret, algorithm="HS384"), "token_algorithm"),
        ("crit-header", crit, "token_malformed"),
        ("garbage-bytes", "\xb7\x00.\xff\xfe.\x01", "token_malformed"),
        ("non-utf8-header", b64(b"\xb7\xff") + ".e30.c2ln", "token_malformed"),
        ("non-utf8-payload", signed_hs256(secret, hs, b"\xb7\xff\xfe"), "token_malformed"),
        ("non-json-header", f"{b64(b'hello')}.e30.c2ln", "token_malformed"),
        ("header-not-object", f"{b64(b'[1, 2]')}.e30.c2ln", "token_malformed"),
        ("payload-not-object", signed_hs256(secret, hs, b"[1, 2]"), "token_malformed"),
        ("deeply-nested-header", f"{b64(b'[' * 5000)}.e30.c2ln", "token_malformed"),
        ("longer-than-the-cap", _longer_than(MAX_TOKEN_CHARS, hs256), "token_malformed"),
        (
            "non-ascii",
            "é" + mint(secret, sub="u", role=Role.STAFF, company_id="c"),
            "token_malformed",
        ),
        ("bad-base64", "e30.e30.!!!!", "token_malformed"),
        (
            "kid-not-string",
            signed_hs256(secret, b'{"alg": "HS256", "kid": 7}', good),
            "token_malformed",
        ),
        ("alg-not-string", signed_hs256(secret, b'{"alg": ["HS256"]}', good), "token_algorithm"),
        ("alg-missing", signed_hs256(secret, b"{}", good), "token_algorithm"),
        ("exp-string", hs256(exp=str(claims["exp"])), "token_claims"),
        ("exp-bool", hs256(exp=True), "token_claims"),
        ("exp-list", hs256(exp=[1]), "token_claims"),
        (
            "exp-infinity",
            signed_hs256(
                secret, hs, b'{"sub": "u", "role": "staff", "companyId": "c", "exp": Infinity}'
            ),
            "token_claims",
        ),
        ("exp-huge-int", signed_hs256(secret, hs, huge_exp), "token_claims"),
        ("exp-missing", without("exp"), "token_claims"),
        ("nbf-future", hs256(nbf=now + 86400), "token_not_yet_valid"),
        ("iat-future", hs256(iat=now + 86400), "token_not_yet_valid"),
        ("nbf-string", hs256(nbf="soon"), "token_claims"),
        ("jti-number", hs256(jti=5), "token_claims"),
        ("sub-object", hs256(sub={"a": 1}), "token_claims"),
        ("role-missing", without("role"), "token_claims"),
        ("role-unknown", hs256(role="root"), "token_claims"),
    ]
