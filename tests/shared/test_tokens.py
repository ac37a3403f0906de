"""Token signing and verification: HS256 with our secret, RS256/ES256 with a platform key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.tokens import HUB_WIDE_ROLES, WEB_ROLES, Role, TokenError, TokenKeys, mint, verify

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


# --- Every malformed token is a TokenError with a code, never another exception -----------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header: bytes, payload: bytes) -> str:
    """A token whose header and payload are given as raw bytes, signed with SECRET."""
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


_CLAIMS = {"sub": "u", "role": "manager", "companyId": "c", "exp": int(time.time()) + 600}
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = ec.generate_private_key(ec.SECP256R1())


def _malformed_cases() -> list[tuple[str, str, str]]:
    hs = b'{"alg":"HS256","typ":"JWT"}'
    good_payload = json.dumps(_CLAIMS).encode()
    return [
        ("es256-vs-rsa", jwt.encode(_CLAIMS, _EC, algorithm="ES256"), "token_algorithm"),
        ("rs256-vs-none", jwt.encode(_CLAIMS, "s" * 48, algorithm="HS384"), "token_algorithm"),
        (
            "crit",
            jwt.encode(_CLAIMS, SECRET, algorithm="HS256", headers={"crit": ["exp"]}),
            "token_malformed",
        ),
        ("garbage-bytes", "\xb7\x00.\xff\xfe.\x01", "token_malformed"),
        ("non-utf8-header", _b64(b"\xb7\xff") + ".e30.c2ln", "token_malformed"),
        ("non-utf8-payload", _hs256(hs, b"\xb7\xff\xfe"), "token_malformed"),
        ("non-json-header", f"{_b64(b'hello')}.{_b64(b'{}')}.c2ln", "token_malformed"),
        ("header-not-object", f"{_b64(b'[1, 2]')}.{_b64(b'{}')}.c2ln", "token_malformed"),
        ("payload-not-object", _hs256(hs, b"[1, 2]"), "token_malformed"),
        ("deep-header", f"{_b64(b'[' * 5000)}.{_b64(b'{}')}.c2ln", "token_malformed"),
        (
            "huge",
            jwt.encode({**_CLAIMS, "x": "a" * 9000}, SECRET, algorithm="HS256"),
            "token_malformed",
        ),
        (
            "non-ascii",
            "é" + mint(SECRET, sub="u", role=Role.STAFF, company_id="c"),
            "token_malformed",
        ),
        ("bad-padding", "e30.e30.!!!!", "token_malformed"),
        (
            "kid-not-string",
            _hs256(b'{"alg": "HS256", "kid": 7}', good_payload),
            "token_malformed",
        ),
        ("alg-not-string", _hs256(b'{"alg": ["HS256"]}', good_payload), "token_algorithm"),
        ("alg-missing", _hs256(b"{}", good_payload), "token_algorithm"),
        ("exp-string", jwt.encode({**_CLAIMS, "exp": str(_CLAIMS["exp"])}, SECRET), "token_claims"),
        ("exp-bool", jwt.encode({**_CLAIMS, "exp": True}, SECRET), "token_claims"),
        ("exp-list", jwt.encode({**_CLAIMS, "exp": [1]}, SECRET), "token_claims"),
        (
            "exp-infinity",
            _hs256(hs, b'{"sub": "u", "role": "staff", "companyId": "c", "exp": Infinity}'),
            "token_claims",
        ),
        (
            "exp-huge-int",
            _hs256(
                hs, b'{"sub": "u", "role": "staff", "companyId": "c", "exp": 1' + b"0" * 400 + b"}"
            ),
            "token_claims",
        ),
        (
            "exp-missing",
            jwt.encode({k: v for k, v in _CLAIMS.items() if k != "exp"}, SECRET),
            "token_claims",
        ),
        (
            "nbf-future",
            jwt.encode({**_CLAIMS, "nbf": int(time.time()) + 3600}, SECRET),
            "token_not_yet_valid",
        ),
        (
            "iat-future",
            jwt.encode({**_CLAIMS, "iat": int(time.time()) + 3600}, SECRET),
            "token_not_yet_valid",
        ),
        ("nbf-string", jwt.encode({**_CLAIMS, "nbf": "soon"}, SECRET), "token_claims"),
        ("jti-number", jwt.encode({**_CLAIMS, "jti": 5}, SECRET), "token_claims"),
        ("sub-object", jwt.encode({**_CLAIMS, "sub": {"a": 1}}, SECRET), "token_claims"),
        (
            "role-missing",
            jwt.encode({k: v for k, v in _CLAIMS.items() if k != "role"}, SECRET),
            "token_claims",
        ),
    ]


MALFORMED = _malformed_cases()
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


@pytest.mark.parametrize(("name", "token", "code"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_tokens_are_refused_with_a_code(name: str, token: str, code: str) -> None:
    rsa_public = _pem_pair(_RSA)[1]
    with pytest.raises(TokenError) as exc:
        verify(token, _keys(public_keys=(rsa_public,)))
    assert exc.value.code == code, exc.value.message
    assert exc.value.message and len(exc.value.message) < 200
    assert not any(phrase in exc.value.message for phrase in DECODER_PHRASES), exc.value.message


def test_garbage_token_message_says_it_is_not_a_jwt() -> None:
    token = _b64(b"\xb7\xff") + ".e30.c2ln"
    with pytest.raises(TokenError) as exc:
        verify(token, _keys())
    assert exc.value.message == "the token is not a valid JWT"


def test_long_algorithm_names_are_cut_short_in_messages() -> None:
    token = _hs256(json.dumps({"alg": "X" * 3000}).encode(), json.dumps(_CLAIMS).encode())
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
    token = jwt.encode({**_CLAIMS, "nbf": int(now) + 20}, SECRET)
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
