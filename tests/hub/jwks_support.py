"""A real JWKS server on 127.0.0.1 for keyring tests: serves, changes, fails or hangs on demand."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
_ALGORITHMS: dict[type, tuple[str, type[jwt.algorithms.Algorithm]]] = {
    rsa.RSAPrivateKey: ("RS256", jwt.algorithms.RSAAlgorithm),
    ec.EllipticCurvePrivateKey: ("ES256", jwt.algorithms.ECAlgorithm),
    ed25519.Ed25519PrivateKey: ("EdDSA", jwt.algorithms.OKPAlgorithm),
}


def algorithm_of(private: PrivateKey) -> str:
    """The JWS algorithm a private key signs with."""
    return next(alg for kind, (alg, _) in _ALGORITHMS.items() if isinstance(private, kind))


def jwk(private: PrivateKey, kid: str) -> dict[str, Any]:
    """The public JWK of a private key, with its kid."""
    _, algorithm = next(v for kind, v in _ALGORITHMS.items() if isinstance(private, kind))
    document: dict[str, Any] = algorithm.to_jwk(private.public_key(), as_dict=True)  # type: ignore[call-overload]
    return {**document, "kid": kid, "use": "sig"}


def platform_token(private: PrivateKey, kid: str | None, **claims: Any) -> str:
    """A platform token signed by ``private``, naming ``kid``."""
    payload = {"sub": "p-1", "role": "manager", "companyId": "acme", "exp": int(time.time()) + 300}
    headers = {"kid": kid} if kid else None
    return jwt.encode(
        {**payload, **claims}, private, algorithm=algorithm_of(private), headers=headers
    )


class JwksServer:
    """Serves ``document`` at /jwks; counts requests; can answer an error status or hang."""

    def __init__(self, *keys: tuple[PrivateKey, str]) -> None:
        self.document: Any = {"keys": [jwk(private, kid) for private, kid in keys]}
        self.requests = 0
        self.status = 200
        self.hang = False
        self.body: bytes | None = None
        app = web.Application()
        app.router.add_get("/jwks", self._serve)
        self._server = TestServer(app, host="127.0.0.1")

    async def __aenter__(self) -> JwksServer:
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.close()

    @property
    def url(self) -> str:
        """The JWKS URL."""
        return str(self._server.make_url("/jwks"))

    def serve(self, *keys: tuple[PrivateKey, str]) -> None:
        """Serve these keys from now on (a rotation)."""
        self.document = {"keys": [jwk(private, kid) for private, kid in keys]}

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.hang:
            await asyncio.sleep(3600)
        if self.body is not None:
            return web.Response(body=self.body, content_type="application/json")
        return web.json_response(self.document, status=self.status)

    async def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        """Until the server has answered at least ``count`` requests."""
        async with asyncio.timeout(timeout):
            while self.requests < count:
                await asyncio.sleep(0.01)
