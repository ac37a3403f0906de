"""The platform's public keys: parsed from PEM text or a JWKS document, looked up by ``kid``.

Sans-IO: the hub fetches the JWKS document (``hub/keyring.py``) and hands the parsed keys to a
:class:`PlatformKeySet`, which verification reads. Every key is bound to exactly one algorithm
when it is loaded (an RSA key verifies RS256, a P-256 key ES256, an Ed25519 key EdDSA), so a
token's own ``alg`` header never decides how a key is used (RFC 8725 §2.1, §3.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

#: The signing algorithms accepted from a platform (asymmetric only: the JWKS is public).
PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256", "EdDSA")


@dataclass(frozen=True)
class PlatformKey:
    """One public key, the one algorithm it verifies, and its ``kid`` when a JWKS named it."""

    algorithm: str
    key: Any
    kid: str | None = None


def key_from_pem(pem: str | bytes) -> PlatformKey:
    """A PEM public key (RSA, EC P-256 or Ed25519), or ValueError saying why not."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ValueError("not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    if isinstance(key, rsa.RSAPublicKey):
        return PlatformKey("RS256", key)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return PlatformKey("ES256", key)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return PlatformKey("EdDSA", key)
    raise ValueError("a platform key must be RSA, EC P-256 or Ed25519")


def keys_from_jwks(document: Any) -> list[PlatformKey]:
    """The usable signing keys of a JWKS document (RFC 7517), or ValueError when it has none.

    Members PyJWT cannot use, symmetric keys, keys for other algorithms and keys whose ``use``
    is not ``sig`` are skipped, so one odd key never hides the others.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS document is an object with a "keys" list')
    try:
        parsed = jwt.PyJWKSet.from_dict(dict(document))
    except jwt.PyJWTError:
        raise ValueError("the JWKS document has no usable key") from None
    keys = [
        PlatformKey(jwk.algorithm_name, jwk.key, _kid(jwk))
        for jwk in parsed.keys
        if jwk.algorithm_name in PUBLIC_KEY_ALGORITHMS and jwk.public_key_use in (None, "sig")
    ]
    if not keys:
        raise ValueError(f"the JWKS document has no {'/'.join(PUBLIC_KEY_ALGORITHMS)} signing key")
    return keys


def _kid(jwk: jwt.PyJWK) -> str | None:
    kid = jwk.key_id
    return kid if isinstance(kid, str) else None


class PlatformKeySet:
    """The keys fetched from the platform's JWKS, by ``kid``; replaced whole on each fetch."""

    def __init__(self, keys: Iterable[PlatformKey] = ()) -> None:
        self._keys: tuple[PlatformKey, ...] = ()
        self._by_kid: dict[str, PlatformKey] = {}
        self.replace(keys)

    def replace(self, keys: Iterable[PlatformKey]) -> None:
        """Hold exactly ``keys`` from now on (a rotation drops the keys the JWKS dropped)."""
        held = tuple(keys)
        # Two assignments, no await between them: readers never see half of a rotation.
        self._by_kid = {key.kid: key for key in held if key.kid is not None}
        self._keys = held

    def find(self, kid: str) -> PlatformKey | None:
        """The key with this ``kid``, if the last fetch had one."""
        return self._by_kid.get(kid)

    @property
    def keys(self) -> tuple[PlatformKey, ...]:
        """Every key held."""
        return self._keys

    @property
    def unnamed(self) -> tuple[PlatformKey, ...]:
        """The keys the JWKS gave no ``kid``."""
        return tuple(key for key in self._keys if key.kid is None)

    def __len__(self) -> int:
        return len(self._keys)
