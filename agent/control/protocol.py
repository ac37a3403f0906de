"""The control protocol between the agent core and its local faces (tray, CLI), with no I/O.

Theory of operation. One request per line, one response per line, UTF-8 JSON objects
("JSON lines"), on a local stream (a Unix socket, or a named pipe on Windows)::

    -> {"v": 1, "id": 7, "op": "test_print", "params": {"printer": "Kitchen"}}
    <- {"v": 1, "id": 7, "ok": true, "result": {...}}
    <- {"v": 1, "id": 8, "ok": false, "error": {"code": "unknown_op", "message": "..."}}

``v`` is the protocol version (:data:`VERSION`); a request for another version gets
``unsupported_version`` and the list of versions this side speaks. ``id`` is the client's
(a string or an integer, echoed back; ``null`` when the request could not be read). A line is
at most :data:`MAX_LINE` bytes: a longer one gets ``too_large`` and the connection is closed,
because the stream's framing cannot be trusted after it. Everything else that is wrong with a
request gets a coded error and the connection stays usable.

Precedents for the bound: systemd's varlink caps a message at 16 MiB, Docker's API has none;
our biggest answer (a status with some dozens of printers, or 1000 log lines) is far below
1 MiB, and a request is a few hundred bytes, so 1 MiB for answers and 64 KiB for requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

VERSION = 1
SUPPORTED_VERSIONS = (1,)
#: Largest request line, newline included.
MAX_LINE = 64 * 1024
#: Largest response line a client accepts.
MAX_RESPONSE = 1024 * 1024
MAX_ID = 64

#: Error codes, and what each means (docs/control-api.md lists the same).
ERRORS: dict[str, str] = {
    "bad_json": "the line is not a JSON object",
    "bad_request": "a required field is missing or has the wrong type",
    "too_large": "the line is longer than the limit; the connection is closed",
    "unsupported_version": "the protocol version is not spoken here",
    "unknown_op": "no such operation",
    "invalid_params": "the operation's parameters are wrong",
    "forbidden": "this local user may not use the agent service",
    "read_only_setting": "this setting cannot be changed through the control API",
    "unknown_printer": "no printer matches",
    "not_ready": "the agent is restarting; try again in a moment",
    "pairing_failed": "the hub did not accept the pairing code",
    "busy": "too many connections; try again",
    "timeout": "the operation did not finish in time",
    "internal": "the agent failed unexpectedly (see its log)",
}

RequestId = str | int | None


class ProtocolError(Exception):
    """A request or response that breaks the protocol: carries its error code."""

    def __init__(self, code: str, message: str, request_id: RequestId = None) -> None:
        super().__init__(message)
        assert code in ERRORS, code
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    """One operation a client asks for."""

    id: RequestId
    op: str
    params: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The request as one line."""
        return _line({"v": VERSION, "id": self.id, "op": self.op, "params": self.params})


@dataclass(frozen=True)
class Response:
    """The answer to one request: a result, or an error code and message."""

    id: RequestId
    result: Any = None
    error_code: str | None = None
    error_message: str | None = None
    details: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the operation succeeded."""
        return self.error_code is None

    def encode(self) -> bytes:
        """The response as one line."""
        body: dict[str, Any] = {"v": VERSION, "id": self.id, "ok": self.ok}
        if self.ok:
            body["result"] = self.result
        else:
            body["error"] = {"code": self.error_code, "message": self.error_message}
            if self.details:
                body["error"].update(self.details)
        return _line(body)


def error_response(exc: ProtocolError, **details: Any) -> Response:
    """The response that reports ``exc``."""
    return Response(exc.request_id, error_code=exc.code, error_message=exc.message, details=details)


def _line(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _object(line: bytes, limit: int) -> dict[str, Any]:
    if len(line) > limit:
        raise ProtocolError("too_large", f"a message is at most {limit} bytes")
    try:
        body = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ProtocolError("bad_json", "a message is a JSON object")
    return body


def _request_id(body: dict[str, Any]) -> RequestId:
    value = body.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int | None):
        raise ProtocolError("bad_request", "id is a string or an integer")
    if isinstance(value, str) and len(value) > MAX_ID:
        raise ProtocolError("bad_request", f"id is at most {MAX_ID} characters")
    if isinstance(value, int) and abs(value) >= 2**53:
        raise ProtocolError("bad_request", "id is an integer below 2**53")
    return value


def decode_request(line: bytes) -> Request:
    """Read one request line; ProtocolError (with the id when it could be read) if it is bad."""
    body = _object(line, MAX_LINE)
    request_id = _request_id(body)
    version, op, params = body.get("v"), body.get("op"), body.get("params", {})
    if version not in SUPPORTED_VERSIONS:
        raise ProtocolError(
            "unsupported_version", f"protocol version {version!r} is not spoken here", request_id
        )
    if not isinstance(op, str) or not op:
        raise ProtocolError("bad_request", "op is the operation's name", request_id)
    if not isinstance(params, dict):
        raise ProtocolError("bad_request", "params is a JSON object", request_id)
    return Request(request_id, op, params)


def decode_response(line: bytes) -> Response:
    """Read one response line (a client's side); ProtocolError if it is not one."""
    body = _object(line, MAX_RESPONSE)
    ok, request_id = body.get("ok"), body.get("id")
    if body.get("v") not in SUPPORTED_VERSIONS or not isinstance(ok, bool):
        raise ProtocolError("bad_request", "not a control protocol response")
    if ok:
        return Response(request_id, result=body.get("result"))
    error = body.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        raise ProtocolError("bad_request", "an error response carries error.code")
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    return Response(
        request_id,
        error_code=error["code"],
        error_message=str(error.get("message", "")),
        details=details or None,
    )
