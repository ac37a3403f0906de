"""Every connect refusal, over a real socket, with its reason in connect_error data."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import socketio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.tokens import Role
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
