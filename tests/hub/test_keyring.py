"""Platform keys from a JWKS URL, over a real hub and a real JWKS server on 127.0.0.1.

Rotation needs no restart; unknown kids cost the platform at most one fetch per interval; a
JWKS server that hangs delays only the tokens that need it; the platform's role and claim
names are mapped through settings.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
import socketio
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hub.keyring import Keyring
from shared.jwks import PlatformKeySet
from shared.tokens import Role, TokenKeys
from tests.hub.jwks_support import JwksServer, platform_token
from tests.support import SECRET, HubHarness

RSA_1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_2 = ec.generate_private_key(ec.SECP256R1())
ED_3 = ed25519.Ed25519PrivateKey.generate()


async def _start(tmp_path: Path, jwks: JwksServer, **settings: Any) -> HubHarness:
    hub = await HubHarness.start(tmp_path / "hub", jwks_url=jwks.url, **settings)
    await jwks.wait_for_requests(1)  # the fetch at start-up
    assert await hub.ctx.keyring.refresh() or len(hub.ctx.keys.jwks or ()) > 0
    return hub


async def _connect_error(url: str, token: str) -> dict[str, Any]:
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace="/orders")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            url,
            namespaces=["/orders"],
            auth={"token": token},
            transports=["websocket"],
            wait_timeout=10,
        )
    await client.disconnect()
    return errors[0]["data"]  # type: ignore[no-any-return]


async def test_rotation_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    async with JwksServer((RSA_1, "k1")) as jwks:
        hub = await _start(tmp_path, jwks, jwks_refetch_seconds=0.2)
        try:
            status, body = await hub.get("/api/v1/me", platform_token(RSA_1, "k1"))
            assert (status, body["sub"], body["companyId"]) == (200, "p-1", "acme")
            fetched = jwks.requests

            jwks.serve((EC_2, "k2"))  # the platform rotates: key 1 is gone, key 2 signs
            status, body = await hub.get("/api/v1/me", platform_token(EC_2, "k2"))
            assert status == 200, body
            assert jwks.requests == fetched + 1

            await asyncio.sleep(0.25)  # past the refetch interval
            jwks.serve((EC_2, "k2"), (ED_3, "k3"))
            client = await hub.connect(platform_token(ED_3, "k3"), ["/orders"])
            assert client.client.connected

            await asyncio.sleep(0.25)
            status, body = await hub.get("/api/v1/me", platform_token(RSA_1, "k1"))
            assert (status, body["code"]) == (401, "token_unknown_key")
        finally:
            await hub.stop()


async def test_a_burst_of_unknown_kids_fetches_once_per_interval(tmp_path: Path) -> None:
    async with JwksServer((RSA_1, "k1")) as jwks:
        hub = await _start(tmp_path, jwks, jwks_refetch_seconds=30)
        try:
            before = jwks.requests
            tokens = [platform_token(RSA_1, f"made-up-{i}") for i in range(40)]
            answers = await asyncio.gather(*(hub.get("/api/v1/me", t) for t in tokens))
            assert {(status, body["code"]) for status, body in answers} == {
                (401, "token_unknown_key")
            }
            assert jwks.requests == before + 1
            # Sockets share the same limit: still no new fetch within the interval.
            data = await _connect_error(hub.url, platform_token(RSA_1, "made-up-socket"))
            assert data["code"] == "token_unknown_key"
            answers = await asyncio.gather(*(hub.get("/api/v1/me", t) for t in tokens[:10]))
            assert jwks.requests == before + 1
            # Known kids and the hub's own tokens never fetch.
            assert (await hub.get("/api/v1/me", platform_token(RSA_1, "k1")))[0] == 200
            assert (await hub.get("/api/v1/me", hub.token()))[0] == 200
            assert jwks.requests == before + 1
        finally:
            await hub.stop()


async def test_the_refetch_interval_lets_a_new_fetch_through(tmp_path: Path) -> None:
    async with JwksServer((RSA_1, "k1")) as jwks:
        hub = await _start(tmp_path, jwks, jwks_refetch_seconds=0.3)
        try:
            before = jwks.requests
            await hub.get("/api/v1/me", platform_token(RSA_1, "x1"))
            await hub.get("/api/v1/me", platform_token(RSA_1, "x2"))
            assert jwks.requests == before + 1
            await asyncio.sleep(0.35)
            await hub.get("/api/v1/me", platform_token(RSA_1, "x3"))
            assert jwks.requests == before + 2
        finally:
            await hub.stop()


async def test_a_hanging_jwks_server_times_out_without_blocking_others(tmp_path: Path) -> None:
    async with JwksServer((RSA_1, "k1")) as jwks:
        hub = await _start(tmp_path, jwks, jwks_refetch_seconds=0, jwks_timeout_seconds=2.0)
        try:
            jwks.hang = True
            started = time.monotonic()
            waiting = asyncio.create_task(hub.get("/api/v1/me", platform_token(EC_2, "k-new")))
            await asyncio.sleep(0.1)
            # While the fetch hangs: the hub's own tokens, known kids and sockets go through.
            for token in (hub.token(), platform_token(RSA_1, "k1")):
                began = time.monotonic()
                assert (await hub.get("/api/v1/me", token))[0] == 200
                assert time.monotonic() - began < 1.0
            client = await hub.connect(hub.token(Role.STAFF), ["/orders"])
            assert client.client.connected
            assert not waiting.done()
            status, body = await waiting
            elapsed = time.monotonic() - started
            assert (status, body["code"]) == (401, "token_unknown_key")
            assert 1.9 <= elapsed < 5.0
            # The keys held survive the failed fetch.
            assert (await hub.get("/api/v1/me", platform_token(RSA_1, "k1")))[0] == 200
        finally:
            await hub.stop()


async def test_periodic_refresh_drops_keys_the_platform_dropped(tmp_path: Path) -> None:
    async with JwksServer((RSA_1, "k1")) as jwks:
        hub = await _start(tmp_path, jwks, jwks_refresh_seconds=1, jwks_refetch_seconds=60)
        try:
            assert (await hub.get("/api/v1/me", platform_token(RSA_1, "k1")))[0] == 200
            before = jwks.requests
            jwks.serve((EC_2, "k2"))
            await jwks.wait_for_requests(before + 1, timeout=3)
            await asyncio.sleep(0.1)
            status, body = await hub.get("/api/v1/me", platform_token(RSA_1, "k1"))
            assert (status, body["code"]) == (401, "token_unknown_key")
            assert (await hub.get("/api/v1/me", platform_token(EC_2, "k2")))[0] == 200
        finally:
            await hub.stop()


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, None, "HTTP 500"),
        (200, b"not json", "unusable"),
        (200, b'{"keys": []}', "unusable"),
        (200, b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', "unusable"),
        (200, b'{"keys": ["' + b"x" * 300_000 + b'"]}', "larger than"),
    ],
)
async def test_a_failed_fetch_keeps_the_keys_held(
    status: int, body: bytes | None, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with JwksServer((RSA_1, "k1")) as jwks:
        keys = TokenKeys(SECRET, jwks=PlatformKeySet())
        keyring = Keyring(keys, jwks.url, refetch_seconds=0, timeout_seconds=2)
        try:
            assert await keyring.refresh()
            jwks.status, jwks.body = status, body
            with caplog.at_level(logging.WARNING, "chit.hub.keyring"):
                assert not await keyring.refresh()
            assert keys.jwks is not None and keys.jwks.find("k1") is not None
            failed = [r for r in caplog.records if r.getMessage().startswith("JWKS fetch failed")]
            assert failed and reason in failed[0].error  # type: ignore[attr-defined]
        finally:
            await keyring.close()


async def test_an_unreachable_jwks_url_is_a_logged_failure() -> None:
    keys = TokenKeys(SECRET, jwks=PlatformKeySet())
    keyring = Keyring(keys, "http://127.0.0.1:9/jwks", timeout_seconds=1)
    try:
        assert not await keyring.refresh()
        assert keyring.fetches == 1 and len(keys.jwks or ()) == 0
    finally:
        await keyring.close()


async def test_platform_roles_and_claims_are_mapped(tmp_path: Path) -> None:
    async with JwksServer((EC_2, "k2")) as jwks:
        hub = await _start(
            tmp_path,
            jwks,
            role_map={
                "desktop_app": "desktop_app",
                "branch_manager": "manager",
                "cashier": "staff",
            },
            claim_map={"companyId": "tenant_id", "branchId": "location_id", "role": "userRole"},
        )
        try:
            cashier = platform_token(
                EC_2,
                "k2",
                role=None,
                companyId=None,
                userRole="cashier",
                tenant_id=12,
                location_id=34,
            )
            status, body = await hub.get("/api/v1/me", cashier)
            assert status == 200, body
            assert (body["role"], body["companyId"], body["branchId"]) == ("staff", "12", "34")
            await hub.provision("12", "34")  # the platform's branch, provisioned
            client = await hub.connect(cashier, ["/orders"])
            assert client.client.connected
            stranger = platform_token(EC_2, "k2", role=None, userRole="owner", tenant_id=12)
            status, body = await hub.get("/api/v1/me", stranger)
            assert (status, body["code"]) == (401, "token_claims") and "role_map" in body["message"]
            assert (await _connect_error(hub.url, stranger))["code"] == "token_claims"
            # The hub's own tokens keep working with Chit's names.
            assert (await hub.get("/api/v1/me", hub.token(Role.MANAGER, "acme")))[0] == 200
        finally:
            await hub.stop()
