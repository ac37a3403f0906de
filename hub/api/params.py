"""Path and query values, validated before any handler or query sees them.

One middleware, two rules. No path segment or query value with a control character reaches
a route at all (PostgreSQL cannot even compare a text column with a NUL, so such a value used
to be a 500 on every lookup). And every documented operation (hub.api.openapi.OPERATIONS)
gets its path and query parameters checked against the types the document declares: an
unknown or repeated query parameter, an id that is no ``Identifier``, an offset past what the
database can count, are each a 422 naming the parameter, the same answer as for a malformed
body field. The document is therefore exactly what is enforced, and routes read
``request.match_info`` and ``request.query`` knowing the values fit their declared types.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from hub.api.errors import Handler, raise_error
from hub.api.openapi import OPERATIONS, PATH_TYPES, Operation
from shared.wire import first_control

_BY_ROUTE: dict[tuple[str, str], Operation] = {
    (method, op.path): op
    for op in OPERATIONS
    for method in ({op.method.upper()} | ({"HEAD"} if op.method == "get" else set()))
}


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def _typed(value: str, kind: Any, code: str, field: str) -> None:
    try:
        _adapter(kind).validate_strings(value)
    except ValidationError as exc:
        raise_error(422, code, f"{field}: {exc.errors()[0]['msg']}", field)


def _printable(code: str, where: str, value: str) -> None:
    found = first_control(value)
    if found is not None:
        index, char = found
        message = f"{where}: contains a control character (U+{ord(char):04X}) at {index}"
        raise_error(422, code, message, where)


def _operation_of(request: web.Request) -> Operation | None:
    resource = request.match_info.route.resource
    if resource is None:
        return None
    return _BY_ROUTE.get((request.method, resource.canonical))


def _check_query(request: web.Request, op: Operation) -> None:
    declared = dict(op.query)
    for key in request.query:
        if key not in declared:
            raise_error(422, "invalid_query", f"unknown query parameter {key!r}", key)
        if len(request.query.getall(key)) > 1:
            raise_error(422, "invalid_query", f"{key} is given more than once", key)
        _typed(request.query[key], declared[key], "invalid_query", key)


def _check_path(request: web.Request, op: Operation) -> None:
    for name, value in request.match_info.items():
        _typed(value, PATH_TYPES.get(name, str), "invalid_path", to_camel(name))


@web.middleware
async def validate_params(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse control characters anywhere in the path or query, then check declared types."""
    for name, value in request.match_info.items():
        _printable("invalid_path", to_camel(name), value)
    for key, value in request.query.items():
        _printable("invalid_query", "query", key)
        _printable("invalid_query", key, value)
    op = _operation_of(request)
    if op is not None:
        _check_path(request, op)
        _check_query(request, op)
    return await handler(request)
