"""Token signing and verification: HS256 with our secret, RS256/ES256 with a platform key."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.tokens import Role, TokenError, TokenKeys, mint, verify

SECRET = "s" * 48


def _keys(**kw: object) -> TokenKeys:
    return TokenKeys(secret=SECRET, **kw)  # type: ignore[arg-type]


def _pem_pair(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[bytes, str]:
    priv = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return priv, pub.decode()


def test_round_trip() -> None:
    token = mint(SECRET, sub="u1", role=Role.MANAGER, company_id="acme", branch_id="b1")
    claims = verify(token, _keys())
    assert (claims.sub, claims.role, claims.company_id, claims.branch_id) == (
        "u1",
        Role.MANAGER,
        "acme",
        "b1",
    )


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("", "token_malformed"),
        ("not-a-jwt", "token_malformed"),
        ("a.b.c", "token_malformed"),
    ],
)
def test_malformed(token: str, code: str) -> None:
    with pytest.raises(TokenError) as exc:
        verify(token, _keys())
    assert exc.value.code == code


def test_expired() -> None:
    token = mint(
        SECRET, sub="u", role=Role.STAFF, company_id="a", ttl_seconds=10, now=time.time() - 3600
    )
    with pytest.raises(TokenError) as exc:
        verify(token, _keys())
    assert exc.value.code == "token_expired"


def test_wrong_secret() -> None:
    token = mint("other" * 10, sub="u", role=Role.STAFF, company_id="a")
    with pytest.raises(TokenError) as exc:
        verify(token, _keys())
    assert exc.value.code == "token_signature"


def test_none_algorithm_refused() -> None:
    token = jwt.encode(
        {"sub": "u", "role": "admin", "exp": time.time() + 60}, None, algorithm="none"
    )
    with pytest.raises(TokenError) as exc:
        verify(token, _keys())
    assert exc.value.code == "token_algorithm"


def test_unknown_role_and_missing_company() -> None:
    bad_role = jwt.encode(
        {"sub": "u", "role": "root", "companyId": "a", "exp": time.time() + 60},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(TokenError) as exc:
        verify(bad_role, _keys())
    assert exc.value.code == "token_claims"
    no_company = mint(SECRET, sub="u", role=Role.MANAGER)
    with pytest.raises(TokenError) as exc:
        verify(no_company, _keys())
    assert exc.value.code == "token_claims"


def test_platform_claim_names_are_understood() -> None:
    token = jwt.encode(
        {
            "sub": "u",
            "userRole": "desktop_app",
            "companyId": "c",
            "branchId": "b",
            "exp": time.time() + 60,
        },
        SECRET,
        algorithm="HS256",
    )
    assert verify(token, _keys()).role is Role.DESKTOP_APP


@pytest.mark.parametrize(
    ("algorithm", "make"),
    [
        ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_public_key_tokens(algorithm: str, make: object) -> None:
    private, public = _pem_pair(make())  # type: ignore[operator]
    token = jwt.encode(
        {"sub": "p", "role": "manager", "companyId": "c", "exp": time.time() + 60},
        private,
        algorithm=algorithm,
    )
    assert verify(token, _keys(public_keys=(public,))).company_id == "c"
    with pytest.raises(TokenError) as exc:
        verify(token, _keys())
    assert exc.value.code == "token_algorithm"
    _, other_public = _pem_pair(make())  # type: ignore[operator]
    with pytest.raises(TokenError) as exc:
        verify(token, _keys(public_keys=(other_public,)))
    assert exc.value.code == "token_signature"


def test_hs256_token_signed_with_public_key_text_is_refused() -> None:
    """Algorithm confusion: an HS256 token keyed with the public PEM must not pass."""
    _, public = _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    forged = jwt.encode(
        {"sub": "x", "role": "admin", "exp": time.time() + 60}, SECRET + "nope", algorithm="HS256"
    )
    with pytest.raises(TokenError):
        verify(forged, _keys(public_keys=(public,)))


def test_numeric_platform_ids_become_strings() -> None:
    token = jwt.encode(
        {"sub": 42, "role": "staff", "companyId": 7, "branchId": 9, "exp": int(time.time()) + 60},
        SECRET,
        algorithm="HS256",
    )
    claims = verify(token, _keys())
    assert (claims.sub, claims.company_id, claims.branch_id) == ("42", "7", "9")
