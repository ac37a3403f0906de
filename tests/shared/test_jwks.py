"""Platform keys: JWKS parsing, selection by kid, and the platform's role and claim names."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from shared.jwks import PlatformKey, PlatformKeySet, key_from_pem, keys_from_jwks
from shared.tokens import (
    Role,
    TokenError,
    TokenKeys,
    claim_map_of,
    mint,
    role_map_of,
    unknown_kid,
    verify,
)

SECRET = "k" * 48
RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC = ec.generate_private_key(ec.SECP256R1())
ED = ed25519.Ed25519PrivateKey.generate()
CLAIMS = {"sub": "u", "role": "manager", "companyId": "c"}


def _jwk(private: Any, kid: str | None, **extra: Any) -> dict[str, Any]:
    kind = {
        rsa.RSAPrivateKey: jwt.algorithms.RSAAlgorithm,
        ec.EllipticCurvePrivateKey: jwt.algorithms.ECAlgorithm,
        ed25519.Ed25519PrivateKey: jwt.algorithms.OKPAlgorithm,
    }
    algorithm = next(a for t, a in kind.items() if isinstance(private, t))
    jwk: dict[str, Any] = algorithm.to_jwk(private.public_key(), as_dict=True)
    return {**jwk, **({"kid": kid} if kid else {}), **extra}


def _token(private: Any, algorithm: str, kid: str | None = None, **claims: Any) -> str:
    headers = {"kid": kid} if kid else None
    payload = {**CLAIMS, "exp": int(time.time()) + 60, **claims}
    return jwt.encode(payload, private, algorithm=algorithm, headers=headers)


def _pem(private: Any) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _jwks_keys(*jwks: dict[str, Any], pems: tuple[str, ...] = (), **kw: Any) -> TokenKeys:
    return TokenKeys(
        SECRET, public_keys=pems, jwks=PlatformKeySet(keys_from_jwks({"keys": list(jwks)})), **kw
    )


def test_jwks_of_every_supported_kind() -> None:
    keys = keys_from_jwks({"keys": [_jwk(RSA, "r"), _jwk(EC, "e"), _jwk(ED, "d")]})
    assert [(k.kid, k.algorithm) for k in keys] == [("r", "RS256"), ("e", "ES256"), ("d", "EdDSA")]
    token_keys = TokenKeys(SECRET, jwks=PlatformKeySet(keys))
    for private, algorithm, kid in ((RSA, "RS256", "r"), (EC, "ES256", "e"), (ED, "EdDSA", "d")):
        assert verify(_token(private, algorithm, kid), token_keys).company_id == "c"


def test_jwks_skips_keys_it_must_not_use() -> None:
    document = {
        "keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},  # a shared secret: never from a JWKS
            _jwk(RSA, "enc", use="enc"),
            _jwk(ec.generate_private_key(ec.SECP384R1()), "p384"),
            {"kty": "RSA", "kid": "broken", "n": "AQAB"},
            "not-a-key",
            _jwk(EC, "good"),
        ]
    }
    assert [k.kid for k in keys_from_jwks(document)] == ["good"]


@pytest.mark.parametrize(
    "document",
    [None, [], {}, {"keys": "x"}, {"keys": []}, {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}],
)
def test_unusable_jwks_is_a_value_error(document: Any) -> None:
    with pytest.raises(ValueError, match="JWKS"):
        keys_from_jwks(document)


def test_pem_keys_are_bound_to_one_algorithm() -> None:
    assert key_from_pem(_pem(RSA)).algorithm == "RS256"
    assert key_from_pem(_pem(EC)).algorithm == "ES256"
    assert key_from_pem(_pem(ED)).algorithm == "EdDSA"
    with pytest.raises(ValueError, match="P-256"):
        key_from_pem(_pem(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(ValueError, match="not a PEM public key"):
        TokenKeys(SECRET, public_keys=("not a pem",))
    assert verify(_token(ED, "EdDSA"), TokenKeys(SECRET, public_keys=(_pem(ED),))).sub == "u"


def test_kid_selects_the_key() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = _jwks_keys(_jwk(RSA, "k1"), _jwk(other, "k2"))
    assert verify(_token(other, "RS256", "k2"), keys).sub == "u"
    # The kid names k1, the token is signed by k2's key: a bad signature, not a search.
    with pytest.raises(TokenError) as exc:
        verify(_token(other, "RS256", "k1"), keys)
    assert exc.value.code == "token_signature"


def test_unknown_kid_is_refused_with_its_own_code() -> None:
    keys = _jwks_keys(_jwk(RSA, "k1"))
    token = _token(RSA, "RS256", "k9")
    with pytest.raises(TokenError) as exc:
        verify(token, keys)
    assert exc.value.code == "token_unknown_key" and "'k9'" in exc.value.message
    assert unknown_kid(token, keys) == "k9"
    assert unknown_kid(_token(RSA, "RS256", "k1"), keys) is None
    assert unknown_kid(mint(SECRET, sub="u", role=Role.STAFF, company_id="c"), keys) is None
    assert unknown_kid("garbage", keys) is None
    assert unknown_kid(token, TokenKeys(SECRET)) is None  # no JWKS configured: nothing to fetch


def test_unknown_kid_falls_back_to_pem_keys() -> None:
    keys = _jwks_keys(_jwk(EC, "k1"), pems=(_pem(RSA),))
    assert verify(_token(RSA, "RS256", "pem-kid"), keys).sub == "u"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenError) as exc:
        verify(_token(stranger, "RS256", "pem-kid"), keys)
    assert exc.value.code == "token_unknown_key"


def test_kid_of_a_key_for_another_algorithm_is_refused() -> None:
    keys = _jwks_keys(_jwk(EC, "k1"))
    with pytest.raises(TokenError) as exc:
        verify(_token(RSA, "RS256", "k1"), keys)
    assert exc.value.code == "token_algorithm"


def test_token_without_kid_tries_every_key_of_its_algorithm() -> None:
    keys = _jwks_keys(
        _jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048), "a"), _jwk(RSA, "b")
    )
    assert verify(_token(RSA, "RS256"), keys).sub == "u"
    with pytest.raises(TokenError) as exc:
        verify(_token(EC, "ES256"), keys)
    assert exc.value.code == "token_algorithm"


def test_rotation_replaces_the_whole_set() -> None:
    held = PlatformKeySet(keys_from_jwks({"keys": [_jwk(RSA, "k1")]}))
    keys = TokenKeys(SECRET, jwks=held)
    assert verify(_token(RSA, "RS256", "k1"), keys).sub == "u"
    held.replace(keys_from_jwks({"keys": [_jwk(EC, "k2")]}))
    assert verify(_token(EC, "ES256", "k2"), keys).sub == "u"
    with pytest.raises(TokenError) as exc:
        verify(_token(RSA, "RS256", "k1"), keys)
    assert exc.value.code == "token_unknown_key"
    assert len(held) == 1 and held.find("k2") is not None and held.unnamed == ()


# --- The platform's names -------------------------------------------------------------------

ROLE_MAP = {"desktop_app": "desktop_app", "branch_manager": "manager", "cashier": "staff"}
CLAIM_MAP = {"companyId": "tenant_id", "branchId": "location_id", "role": "userRole"}


def _mapped_keys() -> TokenKeys:
    return TokenKeys(SECRET, public_keys=(_pem(EC),), role_map=ROLE_MAP, claim_map=CLAIM_MAP)


def _platform(**payload: Any) -> str:
    return jwt.encode({"exp": int(time.time()) + 60, **payload}, EC, algorithm="ES256")


def test_platform_names_are_mapped() -> None:
    token = _platform(sub=1001, userRole="cashier", tenant_id=7, location_id="b-3")
    claims = verify(token, _mapped_keys())
    assert (claims.sub, claims.role, claims.company_id, claims.branch_id) == (
        "1001",
        Role.STAFF,
        "7",
        "b-3",
    )
    token = _platform(sub="m", userRole="branch_manager", tenant_id="acme")
    assert verify(token, _mapped_keys()).role is Role.MANAGER


def test_unknown_platform_role_is_refused() -> None:
    for role in ("manager", "root", None, 5):
        token = _platform(sub="u", userRole=role, tenant_id="acme")
        with pytest.raises(TokenError) as exc:
            verify(token, _mapped_keys())
        assert exc.value.code == "token_claims" and "role_map" in exc.value.message


def test_mapped_claim_is_read_from_the_platform_name_only() -> None:
    # companyId is mapped to tenant_id: a companyId claim in a platform token is not read.
    token = _platform(sub="u", userRole="cashier", companyId="acme")
    with pytest.raises(TokenError) as exc:
        verify(token, _mapped_keys())
    assert exc.value.code == "token_claims" and "companyId" in exc.value.message


def test_hub_tokens_keep_chit_names_under_maps() -> None:
    token = mint(SECRET, sub="u", role=Role.MANAGER, company_id="acme", branch_id="b1")
    claims = verify(token, _mapped_keys())
    assert (claims.role, claims.company_id, claims.branch_id) == (Role.MANAGER, "acme", "b1")


def test_default_names_without_maps() -> None:
    keys = TokenKeys(SECRET, public_keys=(_pem(EC),))
    claims = verify(_platform(sub=5, userRole="staff", companyId=9, branchId=3), keys)
    assert (claims.sub, claims.role, claims.company_id, claims.branch_id) == (
        "5",
        Role.STAFF,
        "9",
        "3",
    )
    assert verify(_platform(sub="5", role="operator"), keys).role is Role.OPERATOR


def test_map_settings_are_checked() -> None:
    assert role_map_of({"cashier": "staff"}) == {"cashier": Role.STAFF}
    with pytest.raises(ValueError, match="'cashier' maps to 'clerk'"):
        role_map_of({"cashier": "clerk"})
    with pytest.raises(ValueError, match="'tenant'"):
        claim_map_of({"tenant": "tenant_id"})
    with pytest.raises(ValueError, match="non-empty"):
        claim_map_of({"companyId": ""})
    with pytest.raises(ValueError, match="superuser"):
        TokenKeys(SECRET, role_map={"x": "superuser"})


def test_platform_key_is_a_plain_record() -> None:
    key = PlatformKey("ES256", EC.public_key(), "k")
    assert PlatformKeySet([key]).find("k") is key
