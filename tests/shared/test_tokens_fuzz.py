"""Property tests: whatever a token holds, verify() answers Claims or a TokenError, nothing else.

Tokens are built from arbitrary text and bytes, and from arbitrary JSON headers and payloads
signed with a random key and algorithm (matching the header's ``alg`` or not), against a hub
that holds an HS256 secret, PEM keys of every kind and a JWKS with kids.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.jwks import PlatformKey, PlatformKeySet
from shared.tokens import Claims, TokenError, TokenKeys, unknown_kid, verify
from shared.wire import error_dict

SECRET = "f" * 48
_PRIVATE = {
    "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate(),
}
_SIGNERS: list[tuple[str, Any]] = [
    ("HS256", SECRET),
    ("HS256", "wrong-secret" * 4),
    ("HS384", SECRET),
    *((alg, key) for alg, key in _PRIVATE.items()),
    ("ES256", ec.generate_private_key(ec.SECP256R1())),  # a key the hub does not know
]


def _pem(private: Any) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


KEYS = TokenKeys(
    secret=SECRET,
    public_keys=(_pem(_PRIVATE["RS256"]),),
    jwks=PlatformKeySet(
        PlatformKey(alg, key.public_key(), f"k-{alg}") for alg, key in _PRIVATE.items()
    ),
)
MAPPED = TokenKeys(
    secret=SECRET,
    public_keys=tuple(_pem(key) for key in _PRIVATE.values()),
    role_map={"cashier": "staff", "boss": "manager"},
    claim_map={"companyId": "tenant", "role": "userRole", "sub": "uid"},
)

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_now = int(time.time())
_times = st.one_of(
    st.integers(_now - 100, _now + 100), st.sampled_from([_now + 7 * 86400, "1", 1e400]), _json
)
_header = st.fixed_dictionaries(
    {
        "alg": st.sampled_from(["HS256", "RS256", "ES256", "EdDSA", "none", "HS384", "PS256"])
        | _json
    },
    optional={
        "kid": st.sampled_from(["k-RS256", "k-ES256", "k-EdDSA", "k-unknown"]) | _json,
        "typ": _json,
        "crit": st.lists(st.sampled_from(["b64", "exp", "x"]), max_size=2) | _json,
        "b64": st.booleans() | _json,
        "jku": st.just("http://127.0.0.1:1/jwks"),
    },
)
_names = st.sampled_from(
    ["sub", "uid", "role", "userRole", "companyId", "tenant", "branchId", "agentId", "jti"]
)
_payload = st.fixed_dictionaries(
    {"exp": _times},
    optional={
        "sub": st.sampled_from(["u1", 42, "", "a:b"]) | _json,
        "role": st.sampled_from(["manager", "staff", "operator", "cashier", "root"]) | _json,
        "companyId": st.sampled_from(["acme", 7, "x/y"]) | _json,
        "nbf": _times,
        "iat": _times,
        "aud": _json,
        "iss": _json,
    },
).flatmap(
    lambda base: st.dictionaries(_names, _json, max_size=3).map(lambda extra: {**extra, **base})
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(header: Any, payload: Any, signer: tuple[str, Any]) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    algorithm = jwt.get_algorithm_by_name(signer[0])
    signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(signer[1]))
    return f"{signing_input}.{_b64(signature)}"


def _outcome(token: Any, keys: TokenKeys) -> Claims | TokenError:
    try:
        return verify(token, keys)
    except TokenError as exc:
        return exc


def _answers_cleanly(token: Any, keys: TokenKeys) -> None:
    outcome = _outcome(token, keys)
    if isinstance(outcome, TokenError):
        # The refusal must be sendable as a connect_error / HTTP body (ErrorInfo validates it).
        assert error_dict(outcome.code, outcome.message)["code"].startswith("token_")
        assert "codec" not in outcome.message and "Expecting" not in outcome.message
    else:
        assert isinstance(outcome, Claims)
    kid = unknown_kid(token, keys)
    assert kid is None or isinstance(kid, str)


_segment = st.binary(max_size=40).map(_b64) | st.text(max_size=20)
_raw_tokens = (
    st.text(max_size=200)
    | st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
    | st.tuples(_segment, _segment, _segment).map(".".join)
    | st.tuples(_json, _json).map(
        lambda hp: f"{_b64(json.dumps(hp[0]).encode())}.{_b64(json.dumps(hp[1]).encode())}.c2ln"
    )
)
_FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(token=_raw_tokens)
def test_arbitrary_text_raises_only_token_errors(token: str) -> None:
    _answers_cleanly(token, KEYS)


@_FUZZ
@given(header=_header, payload=_payload, signer=st.sampled_from(_SIGNERS), mapped=st.booleans())
def test_signed_arbitrary_json_raises_only_token_errors(
    header: dict[str, Any], payload: dict[str, Any], signer: tuple[str, Any], mapped: bool
) -> None:
    _answers_cleanly(_signed(header, payload, signer), MAPPED if mapped else KEYS)


@_FUZZ
@given(header=_json, payload=_json, signer=st.sampled_from(_SIGNERS))
def test_signed_arbitrary_values_raise_only_token_errors(
    header: Any, payload: Any, signer: tuple[str, Any]
) -> None:
    _answers_cleanly(_signed(header, payload, signer), KEYS)


def test_the_generators_reach_accepted_tokens() -> None:
    """The signed strategy can produce valid tokens, so the property covers the success path."""
    token = _signed(
        {"alg": "EdDSA", "kid": "k-EdDSA"},
        {"sub": "u1", "role": "staff", "companyId": "acme", "exp": _now + 7 * 86400},
        ("EdDSA", _PRIVATE["EdDSA"]),
    )
    assert verify(token, KEYS).company_id == "acme"
    mapped = _signed(
        {"alg": "ES256"},
        {"uid": 42, "userRole": "cashier", "tenant": 7, "exp": _now + 7 * 86400},
        ("ES256", _PRIVATE["ES256"]),
    )
    claims = verify(mapped, MAPPED)
    assert (claims.sub, claims.role, claims.company_id) == ("42", "staff", "7")
