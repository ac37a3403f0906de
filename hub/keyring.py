"""The platform's JWKS on this hub: fetched over HTTP, refetched when a token names a new kid.

Verification (``shared.tokens.verify``) is sync and sans-IO: it reads the keys held in
``TokenKeys.jwks``. This module is the only one that fetches them, so key rotation needs no
restart:

- at start-up and every ``jwks_refresh_seconds`` in the background (keys the platform dropped
  stop working);
- on demand, when a token names a ``kid`` the set does not hold (:meth:`Keyring.ensure_key_for`),
  at most once per ``jwks_refetch_seconds``: a flood of made-up kids costs the platform one
  request per interval, and tokens with a kid still unknown are refused (``token_unknown_key``).

One fetch runs at a time (callers that need it wait for that one), each bounded by
``jwks_timeout_seconds``; a failed fetch keeps the keys held and is logged. REST requests get
this through :meth:`Keyring.middleware`, before any handler runs, so handlers verify tokens
synchronously; socket connects await :meth:`Keyring.ensure_for_connect` before authenticating.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Middleware

from hub.auth import AuthRefused, bearer_from_header, token_from_connect
from hub.settings import Settings
from shared.jwks import PlatformKey, PlatformKeySet, keys_from_jwks
from shared.tokens import TokenKeys, unknown_kid

log = logging.getLogger("chit.hub.keyring")

#: Largest JWKS document read (bytes); a real one with a few keys is 1-3 KiB.
MAX_JWKS_BYTES = 256 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class JwksUnusable(Exception):
    """A JWKS answer that cannot be used (status, size, JSON, no usable key)."""


class Keyring:
    """Holds the platform's JWKS keys inside ``keys`` and fetches them when needed."""

    def __init__(
        self,
        keys: TokenKeys,
        url: str | None = None,
        *,
        refetch_seconds: float = 30.0,
        refresh_seconds: float = 600.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.keys = keys
        self.url = url
        self.refetch_seconds = refetch_seconds
        self.refresh_seconds = refresh_seconds
        self.timeout_seconds = timeout_seconds
        #: Fetches started (successful or not): for tests and the log.
        self.fetches = 0
        self._last_on_demand = -math.inf
        self._inflight: asyncio.Task[bool] | None = None
        self._http: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, keys: TokenKeys, settings: Settings) -> Keyring:
        """The keyring configured by ``jwks_*`` settings (inert without ``jwks_url``)."""
        return cls(
            keys,
            settings.jwks_url,
            refetch_seconds=settings.jwks_refetch_seconds,
            refresh_seconds=settings.jwks_refresh_seconds,
            timeout_seconds=settings.jwks_timeout_seconds,
        )

    @property
    def _jwks(self) -> PlatformKeySet | None:
        return self.keys.jwks if self.url else None

    async def ensure_key_for(self, token: str) -> None:
        """Refetch the JWKS when ``token`` names a kid not held and the rate limit allows.

        Never raises: verification afterwards refuses the token if its key is still unknown.
        """
        if self._jwks is None or unknown_kid(token, self.keys) is None:
            return
        if self._inflight is None:
            if time.monotonic() - self._last_on_demand < self.refetch_seconds:
                return
            self._last_on_demand = time.monotonic()
        await self._fetch_once()

    async def ensure_for_connect(self, environ: Mapping[str, Any], auth: Any) -> None:
        """:meth:`ensure_key_for` the token of a Socket.IO connect, if it carries one."""
        try:
            token = token_from_connect(environ, auth)
        except AuthRefused:
            return
        await self.ensure_key_for(token)

    async def refresh(self) -> bool:
        """Fetch the JWKS now (or wait for the fetch under way); True when keys were replaced."""
        if self._jwks is None:
            return False
        return await self._fetch_once()

    def middleware(self) -> Middleware:
        """An aiohttp middleware that ensures the bearer token's key before the handler runs."""

        @web.middleware
        async def ensure_platform_key(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self._jwks is not None:
                try:
                    token = bearer_from_header(request.headers.get("Authorization"))
                except AuthRefused:
                    token = None
                if token is not None:
                    await self.ensure_key_for(token)
            return await handler(request)

        return ensure_platform_key

    async def serving(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: refresh in the background while the app serves."""
        task = asyncio.create_task(self._refresh_forever()) if self._jwks is not None else None
        yield
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.close()

    async def close(self) -> None:
        """Stop a fetch under way and close the HTTP client."""
        if self._inflight is not None:
            self._inflight.cancel()
            await asyncio.gather(self._inflight, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _refresh_forever(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.refresh_seconds)

    async def _fetch_once(self) -> bool:
        """Join the fetch under way, or start one; waiting callers never cancel it."""
        if self._inflight is None:
            task = asyncio.create_task(self._fetch())
            self._inflight = task
            task.add_done_callback(self._fetch_done)
        return await asyncio.shield(self._inflight)

    def _fetch_done(self, task: asyncio.Task[bool]) -> None:
        if self._inflight is task:
            self._inflight = None

    async def _fetch(self) -> bool:
        jwks = self._jwks
        assert jwks is not None and self.url is not None
        self.fetches += 1
        try:
            async with asyncio.timeout(self.timeout_seconds):
                keys = await self._download(self.url)
        except (TimeoutError, aiohttp.ClientError, OSError, JwksUnusable) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else repr(exc)
            log.warning(
                "JWKS fetch failed; keeping the keys held",
                extra={"url": self.url, "error": reason, "keys_held": len(jwks)},
            )
            return False
        except Exception:
            # A bug here must not turn token checks into 500s: log it, keep the keys held.
            log.exception("JWKS fetch crashed; keeping the keys held", extra={"url": self.url})
            return False
        jwks.replace(keys)
        log.info("JWKS fetched", extra={"url": self.url, "kids": [k.kid for k in keys]})
        return True

    async def _download(self, url: str) -> list[PlatformKey]:
        headers = {"Accept": "application/jwk-set+json, application/json"}
        async with self._session().get(url, headers=headers) as response:
            if response.status != 200:
                raise JwksUnusable(f"the JWKS URL answered HTTP {response.status}")
            body = await _read_at_most(response, MAX_JWKS_BYTES)
        try:
            return keys_from_jwks(json.loads(body))
        except (ValueError, RecursionError) as exc:
            raise JwksUnusable(f"the JWKS is unusable: {exc}") from None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
            self._http = aiohttp.ClientSession(timeout=timeout)
        return self._http


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, refusing (without buffering) one longer than ``limit`` bytes."""
    body = bytearray()
    while chunk := await response.content.read(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise JwksUnusable(f"the JWKS is larger than {limit} bytes")
    return bytes(body)
