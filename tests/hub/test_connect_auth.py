"""Every connect refusal, over a real socket, with its reason in connect_error data."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jwt
import pytest
import socketio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.tokens import Role
from tests.hostile_tokens import DECODER_PHRASES, b64, hostile_tokens
from tests.support import SECRET, HubHarness


async def _refusal(
    url: str, namespace: str, auth: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", lambda data: errors.append(data), namespace=namespace)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            url,
            namespaces=[namespace],
            auth=auth,
            headers=headers or {},
            transports=["websocket"],
            wait_timeout=5,
        )
    await client.disconnect()
    assert errors, "the hub gave no connect_error"
    return errors[0]["data"]  # type: ignore[no-any-return]


async def _raw_get(url: str, path: str, token: str) -> tuple[int, Any]:
    """GET with ``Authorization: Bearer <token>`` sent byte for byte (UTF-8), as any client may."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        writer.write(head.encode() + b"Authorization: Bearer " + token.encode() + b"\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    status = int(status_line.split()[1])
    return status, json.loads(body) if body.startswith(b"{") else body.decode(errors="replace")


def _expired() -> str:
    return jwt.encode(
        {"sub": "u", "role": "manager", "companyId": "acme", "exp": int(time.time()) - 3600},
        SECRET,
        algorithm="HS256",
    )


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        (None, "token_missing"),
        ({}, "token_missing"),
        ({"token": ""}, "token_malformed"),
        ({"token": 12}, "token_malformed"),
        ("just-a-string", "token_malformed"),
        ({"token": "garbage"}, "token_malformed"),
        ({"token": "aaa.bbb.ccc"}, "token_malformed"),
    ],
)
async def test_missing_and_malformed(hub: HubHarness, auth: Any, code: str) -> None:
    data = await _refusal(hub.url, "/orders", auth)
    assert data["code"] == code and data["message"]


async def test_expired(hub: HubHarness) -> None:
    data = await _refusal(hub.url, "/orders", {"token": _expired()})
    assert data == {"code": "token_expired", "message": "token has expired"}


async def test_wrong_signature(hub: HubHarness) -> None:
    forged = jwt.encode(
        {"sub": "u", "role": "admin", "companyId": "acme", "exp": int(time.time()) + 60},
        "guessed-secret" * 4,
        algorithm="HS256",
    )
    assert (await _refusal(hub.url, "/orders", {"token": forged}))["code"] == "token_signature"


@pytest.mark.parametrize(
    ("role", "namespace"),
    [
        (Role.DESKTOP_APP, "/orders"),
        (Role.DESKTOP_APP, "/availability"),
        (Role.SERVICE, "/printing-ws"),
        (Role.SERVICE, "/orders"),
    ],
)
async def test_role_not_allowed(hub: HubHarness, role: Role, namespace: str) -> None:
    data = await _refusal(hub.url, namespace, {"token": hub.token(role, "acme")})
    assert data["code"] == "role_not_allowed"
    assert str(role) in data["message"] and namespace in data["message"]


async def test_refusals_are_logged(hub: HubHarness, caplog: pytest.LogCaptureFixture) -> None:
    await _refusal(hub.url, "/orders", {"token": _expired()})
    refused = [r for r in caplog.records if r.getMessage() == "connection refused"]
    assert refused and refused[0].code == "token_expired"  # type: ignore[attr-defined]


async def test_authorization_header_is_accepted(hub: HubHarness) -> None:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        hub.url,
        namespaces=["/orders"],
        transports=["websocket"],
        headers={"Authorization": f"Bearer {hub.token()}"},
        wait_timeout=5,
    )
    assert client.connected
    await client.disconnect()


async def test_bad_authorization_header(hub: HubHarness) -> None:
    data = await _refusal(hub.url, "/orders", headers={"Authorization": "Basic dTpw"})
    assert data["code"] == "token_malformed"


async def test_platform_es256_tokens_with_configured_key(tmp_path: Any) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_file = tmp_path / "platform.pem"
    key_file.write_bytes(pem)
    harness = await HubHarness.start(tmp_path / "d", public_key_files=(key_file,))
    try:
        token = jwt.encode(
            {"sub": "42", "userRole": "staff", "companyId": "acme", "exp": int(time.time()) + 60},
            private,
            algorithm="ES256",
        )
        client = await harness.connect(token, ["/orders"])
        assert client.client.connected
        other = ec.generate_private_key(ec.SECP256R1())
        bad = jwt.encode(
            {"sub": "42", "userRole": "staff", "companyId": "acme", "exp": int(time.time()) + 60},
            other,
            algorithm="ES256",
        )
        assert (await _refusal(harness.url, "/orders", {"token": bad}))["code"] == "token_signature"
    finally:
        await harness.stop()


async def test_branch_claimed_by_two_companies_is_refused(hub: HubHarness) -> None:
    await hub.connect(hub.token(Role.STAFF, "acme", "b1"), ["/orders"])
    data = await _refusal(hub.url, "/orders", {"token": hub.token(Role.STAFF, "evil", "b1")})
    assert data["code"] == "unknown_branch"


async def test_hostile_tokens_get_a_code_over_rest_and_sockets(tmp_path: Any) -> None:
    """Issue 11 §2: every malformed token is a 401 with a code / a connect_error with a code."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "platform-rsa.pem"
    key_file.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    harness = await HubHarness.start(tmp_path / "d", public_key_files=(key_file,))
    try:
        for name, token, code in hostile_tokens(SECRET):
            for path in ("/api/v1/me", "/api/v1/printers"):
                status, body = await _raw_get(harness.url, path, token)
                if any(ord(c) < 32 for c in token):
                    # aiohttp's HTTP parser refuses control characters in headers first.
                    assert status == 400, (name, path, body)
                    continue
                assert (status, body["code"]) == (401, code), (name, path, body)
                assert not any(p in body["message"] for p in DECODER_PHRASES), (name, body)
            data = await _refusal(harness.url, "/orders", {"token": token})
            assert data["code"] == code, (name, data)
            assert not any(p in data["message"] for p in DECODER_PHRASES), (name, data)
    finally:
        await harness.stop()


async def test_garbage_token_connect_error_says_not_a_jwt(hub: HubHarness) -> None:
    """Issue 17 point 12: no decoder's message in a refusal."""
    data = await _refusal(hub.url, "/orders", {"token": b64(b"\xb7\xff") + ".e30.c2ln"})
    assert data == {"code": "token_malformed", "message": "the token is not a valid JWT"}


async def test_operator_token_is_valid_without_company(hub: HubHarness) -> None:
    status, body = await hub.get("/api/v1/me", hub.token(Role.OPERATOR, None))
    assert status == 200 and body["role"] == "operator" and "companyId" not in body
