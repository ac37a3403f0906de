"""JSON errors for every HTTP failure: ``{"code", "message"[, "field"]}``."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.context import ctx_of
from shared.wire import error_dict, first_error

log = logging.getLogger("chit.hub.api")

_HTTP_CODES = {
    400: "bad_request",
    408: "request_timeout",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_payload",
    429: "rate_limited",
}


class ApiError(Exception):
    """An HTTP error with a stable code."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def raise_error(status: int, code: str, message: str, field: str | None = None) -> NoReturn:
    """Raise an ApiError (shorthand for route code)."""
    raise ApiError(status, code, message, field)


def json_error(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    """A JSON error response."""
    return web.json_response(error_dict(code, message, field), status=status)


def rate_limited(retry_after: float, message: str) -> web.Response:
    """A 429 ``rate_limited`` answer with a Retry-After header (whole seconds, at least 1)."""
    response = json_error(429, "rate_limited", message)
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ApiError, aiohttp's HTTP errors and crashes into JSON bodies."""
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.field)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(exc)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return json_error(500, "internal_error", "the hub failed to handle this request")


#: Headers of aiohttp's own errors that carry meaning for the client (405 lists the methods).
_KEPT_HEADERS = ("Allow", "Retry-After")


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    """aiohttp's HTTP error (404, 405, 413...) as our JSON body, keeping its Allow header."""
    code = _HTTP_CODES.get(exc.status, "http_error")
    response = json_error(exc.status, code, exc.reason or code)
    for name in _KEPT_HEADERS:
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


async def read_json(request: web.Request, max_bytes: int) -> Any:
    """Read a JSON body of at most ``max_bytes`` within the body timeout of the settings.

    Larger bodies are refused before buffering (413), other media types with 415, a body
    that trickles in too slowly with 408, and a body that is not JSON with 400.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise_error(413, "body_too_large", f"request body exceeds {max_bytes} bytes")
    if request.content_type != "application/json":
        raise_error(415, "unsupported_media_type", "send Content-Type: application/json")
    timeout = ctx_of(request).settings.body_timeout
    try:
        # aiohttp stops reading and raises 413 once the app's client_max_size is passed.
        async with asyncio.timeout(timeout):
            body = await request.read()
    except TimeoutError:
        raise_error(408, "request_timeout", f"the body did not arrive within {timeout:g} s")
    if len(body) > max_bytes:
        raise_error(413, "body_too_large", f"request body exceeds {max_bytes} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise_error(400, "invalid_json", f"body is not valid JSON: {exc}")
    except RecursionError:
        raise_error(400, "invalid_json", "body is nested too deeply")


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], body: Any, code: str = "invalid_payload") -> M:
    """``body`` validated as ``model``, or a 422 naming the first bad field."""
    if not isinstance(body, dict):
        raise_error(422, code, "body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        where, message = first_error(exc)
        raise_error(422, code, f"{where or 'body'}: {message}", where)


def client_address(request: web.Request, trusted_proxies: tuple[str, ...]) -> str:
    """The caller's address: the peer, or the client a trusted proxy forwarded for."""
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For")
    if peer in trusted_proxies and forwarded:
        # The proxy appends the address it saw last; that is the one it vouches for.
        return forwarded.split(",")[-1].strip() or peer
    return peer
