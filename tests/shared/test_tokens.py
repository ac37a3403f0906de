"""Token signing and verification: HS256 with our secret, RS256/ES256 with a platform key."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.tokens import HUB_WIDE_ROLES, WEB_ROLES, Role, TokenError, TokenKeys, mint, verify
from tests.hostile_tokens import DECODER_PHRASES, b64, hostile_tokens, signed_hs256

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


def test_claims_of_one_shape_share_their_field_set_and_a_copy_gets_its_own() -> None:
    first = verify(mint(SECRET, sub="u1", role=Role.MANAGER, company_id="acme"), _keys())
    second = verify(mint(SECRET, sub="u2", role=Role.MANAGER, company_id="acme"), _keys())
    assert first.model_fields_set is second.model_fields_set  # one set, not one per connection
    assert first.company_id is second.company_id  # the tenant's id is interned
    before = set(first.model_fields_set)
    copy = first.model_copy(update={"branch_id": "b9"})
    assert copy.branch_id == "b9" and "branch_id" in copy.model_fields_set
    assert first.model_fields_set == before == second.model_fields_set
    assert set(first.to_wire()) == set(second.to_wire()) and first.to_wire()["sub"] == "u1"


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


# --- Every malformed token is a TokenError with a code, never another exception -----------


_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
MALFORMED = hostile_tokens(SECRET)


@pytest.mark.parametrize(("name", "token", "code"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_tokens_are_refused_with_a_code(name: str, token: str, code: str) -> None:
    rsa_public = _pem_pair(_RSA)[1]
    with pytest.raises(TokenError) as exc:
        verify(token, _keys(public_keys=(rsa_public,)))
    assert exc.value.code == code, exc.value.message
    assert exc.value.message and len(exc.value.message) < 200
    assert not any(phrase in exc.value.message for phrase in DECODER_PHRASES), exc.value.message


def test_garbage_token_message_says_it_is_not_a_jwt() -> None:
    token = b64(b"\xb7\xff") + ".e30.c2ln"
    with pytest.raises(TokenError) as exc:
        verify(token, _keys())
    assert exc.value.message == "the token is not a valid JWT"


def test_long_algorithm_names_are_cut_short_in_messages() -> None:
    claims = {"sub": "u", "role": "staff", "companyId": "c", "exp": time.time() + 60}
    token = signed_hs256(
        SECRET, json.dumps({"alg": "X" * 3000}).encode(), json.dumps(claims).encode()
    )
    with pytest.raises(TokenError) as exc:
        verify(token, _keys())
    assert exc.value.code == "token_algorithm" and len(exc.value.message) < 100


# --- Leeway ------------------------------------------------------------------------------


def test_leeway_is_a_setting() -> None:
    now = time.time()
    token = mint(SECRET, sub="u", role=Role.STAFF, company_id="c", ttl_seconds=60, now=now - 70)
    # Expired 10 s ago: inside the default 30 s leeway, outside a 5 s one.
    assert verify(token, _keys(), now=now).sub == "u"
    with pytest.raises(TokenError) as exc:
        verify(token, _keys(leeway=5), now=now)
    assert exc.value.code == "token_expired"
    assert verify(token, _keys(leeway=5), now=now - 10).sub == "u"


def test_nbf_within_leeway_is_accepted() -> None:
    now = time.time()
    claims = {"sub": "u", "role": "staff", "companyId": "c", "exp": now + 60}
    token = jwt.encode({**claims, "nbf": int(now) + 20}, SECRET)
    assert verify(token, _keys(), now=now).sub == "u"
    with pytest.raises(TokenError) as exc:
        verify(token, _keys(leeway=0), now=now)
    assert exc.value.code == "token_not_yet_valid"


# --- Roles ---------------------------------------------------------------------------------


def test_operator_tokens_need_no_company() -> None:
    claims = verify(mint(SECRET, sub="ops", role=Role.OPERATOR), _keys())
    assert claims.role is Role.OPERATOR and claims.company_id is None
    assert Role.OPERATOR in HUB_WIDE_ROLES and Role.OPERATOR not in WEB_ROLES


def test_audience_and_issuer_refusals_are_claims_errors() -> None:
    token = mint(SECRET, sub="u", role=Role.STAFF, company_id="c", issuer="other")
    with pytest.raises(TokenError) as exc:
        verify(token, _keys(issuer="platform"))
    assert exc.value.code == "token_claims"
    with pytest.raises(TokenError) as exc:
        verify(token, _keys(audience="chit"))
    assert exc.value.code == "token_claims"
