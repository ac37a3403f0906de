"""Path and query values, validated before any handler or query sees them.

Two layers. :func:`refuse_controls` is a middleware: no path segment or query value with a
control character reaches a route at all (PostgreSQL cannot even compare a text column with a
NUL, so such a value used to be a 500 on every lookup). :func:`path_param` and
:func:`query_param` then check a value against its wire type (an ``Identifier``, a
``PrinterId``...) in the route itself, so a malformed id is a 422 naming the parameter, the
same answer as for a malformed field of a body.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from hub.api.errors import Handler, raise_error
from shared.wire import first_control


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[str]:
    return TypeAdapter(kind)


def _checked(value: str, kind: Any, code: str, field: str) -> str:
    try:
        return _adapter(kind).validate_python(value)
    except ValidationError as exc:
        raise_error(422, code, f"{field}: {exc.errors()[0]['msg']}", field)


def path_param(request: web.Request, name: str, kind: Any) -> str:
    """The path parameter ``name`` (as in the route, snake_case) validated as ``kind``."""
    return _checked(request.match_info[name], kind, "invalid_path", to_camel(name))


def query_param(request: web.Request, name: str, kind: Any) -> str | None:
    """The query parameter ``name`` validated as ``kind``, or None when it is absent."""
    value = request.query.get(name)
    return None if value is None else _checked(value, kind, "invalid_query", name)


def _refuse(code: str, where: str, value: str) -> None:
    found = first_control(value)
    if found is not None:
        index, char = found
        message = f"{where}: contains a control character (U+{ord(char):04X}) at {index}"
        raise_error(422, code, message, where)


@web.middleware
async def refuse_controls(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse requests whose path parameters or query strings hold control characters."""
    for name, value in request.match_info.items():
        _refuse("invalid_path", to_camel(name), value)
    for key, value in request.query.items():
        _refuse("invalid_query", "query", key)
        _refuse("invalid_query", key, value)
    return await handler(request)
