"""Hypothesis over the REST API of a live hub: random methods, paths, queries, headers, bodies.

Requests are written byte by byte on a fresh loopback connection (from a worker thread, the
hub serving in the test's event loop), so nothing a client library would tidy up is spared.
Whatever is sent: no 5xx, every error is a JSON ``{code, message[, field]}``, no ERROR (or
traceback) in the hub's log, and the hub answers /healthz afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
from collections import Counter
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.tokens import Role
from tests.hub.fuzz.conftest import FUZZ, ErrorLog
from tests.support import HubHarness

TEMPLATES = [
    "/healthz",
    "/metrics",
    "/api/v1/openapi.json",
    "/api/v1/connections",
    "/api/v1/alerts",
    "/api/v1/events",
    "/api/v1/events/batch",
    "/api/v1/auth/login",
    "/api/v1/me",
    "/api/v1/me/password",
    "/api/v1/branches",
    "/api/v1/pairing-codes",
    "/api/v1/pairing/redeem",
    "/api/v1/agents",
    "/api/v1/agents/{}/revoke",
    "/api/v1/printers",
    "/api/v1/printers/{}",
    "/api/v1/printers/{}/test",
    "/api/v1/tests/{}",
    "/api/v1/jobs",
    "/api/v1/jobs/{}",
    "/api/v1/{}",
    "/static/{}",
    "/{}",
]
FIELDS = [
    "username",
    "password",
    "branchId",
    "companyId",
    "agentId",
    "printerId",
    "code",
    "hostname",
    "name",
    "namespace",
    "event",
    "payload",
    "raw",
    "document",
    "copies",
    "idempotencyKey",
    "correlationId",
    "currentPassword",
    "newPassword",
    "state",
    "since",
    "limit",
    "offset",
    "lines",
    "text",
    "orderId",
    "status",
]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW"]
NASTY = ["\x00", "\x01", "\x1b", "\x7f", "\n", "\t", "\ud800", "\u2028", "\ufeff", "%", "..", "/"]

#: Text with at least one character that has broken something somewhere: NUL first of all.
nasty = st.builds(
    lambda a, b, c: a + b + c,
    st.text(max_size=8),
    st.sampled_from(["\x00", "\x00", *NASTY]),
    st.text(max_size=8),
)
text = st.one_of(
    st.text(max_size=40),
    nasty,
    st.sampled_from(["b1", "acme", "agent-1", "net:127.0.0.1:9100", "corr-12345678", "9" * 30]),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | text,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | text, inner, max_size=5)
    ),
    max_leaves=12,
)


def _escape(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@dataclass
class RawRequest:
    """One request, as the bytes that will be sent."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def encode(self) -> bytes:
        lines = [f"{self.method} {self.target} HTTP/1.1", "Host: hub", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)


@st.composite
def requests(draw: st.DrawFn, tokens: list[str]) -> RawRequest:
    template = draw(st.sampled_from(TEMPLATES))
    path = template.replace("{}", _escape(draw(text))) if "{}" in template else template
    query = draw(st.dictionaries(st.sampled_from(FIELDS) | text, text, max_size=3))
    if query:
        path += "?" + "&".join(f"{_escape(k)}={_escape(v)}" for k, v in query.items())
    headers: list[tuple[str, str]] = []
    auth = draw(st.sampled_from([*tokens, "garbage", "", "Basic Zm9vOmJhcg==", None]))
    if auth is not None:
        headers.append(("Authorization", auth if " " in auth else f"Bearer {auth}"))
    media = draw(
        st.sampled_from(
            ["application/json", "application/json; charset=utf-16", "text/plain", "", None]
        )
    )
    if media is not None:
        headers.append(("Content-Type", media))
    for name in draw(
        st.lists(
            st.sampled_from(
                ["Idempotency-Key", "X-Forwarded-For", "Accept", "Content-Encoding", "Origin"]
            ),
            max_size=2,
            unique=True,
        )
    ):
        headers.append((name, draw(header_text)))
    body = draw(
        st.one_of(
            st.just(b""),
            json_values.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=200),
            st.sampled_from([b"{", b"[" * 5000, b'{"username": "\\ud800"}', b"\xff\xfe"]),
        )
    )
    return RawRequest(draw(st.sampled_from(METHODS)), path, headers, body)


def exchange(host: str, port: int, request: RawRequest) -> tuple[int, str, bytes]:
    """Send one request on a new connection; (status, content type, body) of the answer."""
    with socket.create_connection((host, port), timeout=15) as sock:
        with contextlib.suppress(OSError):  # the hub may answer and close before reading all
            sock.sendall(request.encode())
        response = http.client.HTTPResponse(sock, method=request.method)
        response.begin()
        return response.status, response.getheader("Content-Type") or "", response.read()


def check_answer(request: RawRequest, status: int, media: str, body: bytes) -> None:
    """The invariants every answer keeps."""
    where = f"{request.method} {request.target}"
    assert status < 500, f"{where} -> {status}: {body[:300]!r}"
    if status < 400 or request.method == "HEAD":
        return
    assert media.startswith("application/json"), f"{where} -> {status} {media}: {body[:200]!r}"
    error = json.loads(body)
    assert {"code", "message"} <= set(error) <= {"code", "message", "field"}, error


async def _fuzz_rest(hub: HubHarness, error_log: ErrorLog) -> None:
    tokens = [
        hub.token(Role.MANAGER, "acme"),
        hub.token(Role.ADMIN, "acme"),
        hub.token(Role.SERVICE, None),
        hub.token(Role.STAFF, "acme", "b1"),
        hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-1"),
    ]
    host, port = hub.url.removeprefix("http://").rsplit(":", 1)
    statuses: Counter[int] = Counter()

    @settings(FUZZ, max_examples=FUZZ.max_examples * 4)
    @given(request=requests(tokens))
    def run(request: RawRequest) -> None:
        status, media, body = exchange(host, int(port), request)
        statuses[status] += 1
        check_answer(request, status, media, body)

    await asyncio.to_thread(run)
    assert statuses.total() >= FUZZ.max_examples, statuses
    assert len(statuses) > 5, f"the fuzzer hardly varied its requests: {statuses}"
    status, body = await hub.get("/healthz")
    assert (status, body["status"]) == (200, "ok")
    assert error_log.summary() == []


@pytest.mark.slow
async def test_rest_api_survives_random_requests(any_hub: HubHarness, error_log: ErrorLog) -> None:
    await _fuzz_rest(any_hub, error_log)


def test_request_encoding_is_what_the_fuzzer_sends() -> None:
    request = RawRequest("GET", "/a?b=%00", [("X-A", "é")], b"{}")
    raw = request.encode()
    assert raw.startswith(b"GET /a?b=%00 HTTP/1.1\r\n")
    assert b"X-A: \xe9\r\n" in raw and raw.endswith(b"Content-Length: 2\r\n\r\n{}")


def test_answers_are_checked() -> None:
    request = RawRequest("GET", "/x", [], b"")
    with pytest.raises(AssertionError):
        check_answer(request, 500, "application/json", b'{"code": "a", "message": "b"}')
    with pytest.raises(AssertionError):
        check_answer(request, 404, "text/plain", b"404: Not Found")
    check_answer(request, 404, "application/json", b'{"code": "not_found", "message": "x"}')
