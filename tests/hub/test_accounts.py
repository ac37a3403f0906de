"""Standalone accounts: sign-in, its rate limit, /me, and the `chit-hub user add` command."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import pytest

from hub import cli, cli_user
from hub.services.bootstrap import MARKER_FILE, bootstrap_admin
from hub.store import Database, tenants, users
from shared.tokens import Role, TokenKeys, verify
from tests.support import SECRET, HubHarness


async def _add_user(
    hub: HubHarness, username: str = "Alice", role: users.UserRole = "manager"
) -> users.UserRow:
    async with hub.ctx.db.session() as s:
        await tenants.ensure_branch(s, "b1", "acme")
        return await users.create_user(s, username, "correct horse", role, "acme", "b1")


async def test_login_returns_a_session_token_for_the_user(hub: HubHarness) -> None:
    user = await _add_user(hub)
    status, body = await hub.post(
        "/api/v1/auth/login", {"username": "alice", "password": "correct horse"}
    )
    assert status == 200, body
    assert body["expiresIn"] == 8 * 3600
    assert body["user"] == {
        "id": user.id,
        "username": "alice",
        "role": "manager",
        "companyId": "acme",
        "branchId": "b1",
    }
    claims = verify(body["token"], TokenKeys(SECRET))
    assert (claims.sub, claims.role, claims.company_id) == (user.id, Role.MANAGER, "acme")
    assert claims.exp is not None and claims.iat is not None
    assert claims.exp - claims.iat == 8 * 3600
    status, me = await hub.get("/api/v1/me", token=body["token"])
    assert status == 200
    assert me["sub"] == user.id and me["branchId"] == "b1"


async def test_session_token_connects_to_a_socket_namespace(hub: HubHarness) -> None:
    await _add_user(hub)
    _, body = await hub.post(
        "/api/v1/auth/login", {"username": "alice", "password": "correct horse"}
    )
    client = await hub.connect(body["token"], ["/printing-ws"])
    assert client.client.connected


async def test_wrong_password_and_unknown_user_get_the_same_answer(hub: HubHarness) -> None:
    await _add_user(hub)
    wrong = await hub.post("/api/v1/auth/login", {"username": "alice", "password": "nope"})
    unknown = await hub.post("/api/v1/auth/login", {"username": "bob", "password": "nope"})
    assert wrong == unknown
    assert wrong[0] == 401 and wrong[1]["code"] == "invalid_credentials"


async def test_me_needs_a_token(hub: HubHarness) -> None:
    status, body = await hub.get("/api/v1/me")
    assert status == 401 and body["code"] == "token_missing"


async def test_repeated_failures_are_rate_limited(hub: HubHarness) -> None:
    await _add_user(hub)
    hub.ctx.login_failures.limit = 3
    for _ in range(3):
        status, _ = await hub.post("/api/v1/auth/login", {"username": "alice", "password": "x"})
        assert status == 401
    good = {"username": "alice", "password": "correct horse"}
    status, body = await hub.post("/api/v1/auth/login", good)
    assert status == 429 and body["code"] == "rate_limited"
    other = await hub.post("/api/v1/auth/login", {"username": "carol", "password": "x"})
    assert other[0] == 401


async def test_user_add_command_creates_a_user_who_can_sign_in(hub: HubHarness) -> None:
    argv = [
        "user",
        "add",
        "--data-dir",
        str(hub.data_dir),
        "--username",
        "Dora",
        "--role",
        "staff",
        "--company",
        "acme",
        "--branch",
        "b2",
        "--password",
        "s3cret pass",
    ]
    assert await asyncio.to_thread(cli.main, argv) == 0
    status, body = await hub.post(
        "/api/v1/auth/login", {"username": "dora", "password": "s3cret pass"}
    )
    assert status == 200, body
    assert body["user"]["role"] == "staff" and body["user"]["branchId"] == "b2"
    assert await asyncio.to_thread(cli.main, argv) == 1


async def test_bootstrap_creates_one_admin_once(tmp_path: Path) -> None:
    db = await Database.connect(None, tmp_path)
    try:
        first = await bootstrap_admin(db, tmp_path)
        assert first is not None and first.company_id == "default"
        async with db.session() as s:
            user = await users.authenticate(s, first.username, first.password)
        assert user is not None and user.role == "admin"
        assert await bootstrap_admin(db, tmp_path) is None
        (tmp_path / MARKER_FILE).unlink()
        assert await bootstrap_admin(db, tmp_path) is None, "users exist: never again"
    finally:
        await db.close()


class _Terminal(io.StringIO):
    """Standard input that is a terminal (getpass asks there)."""

    def isatty(self) -> bool:
        return True


def _prompted(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> None:
    replies = iter(answers)
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(cli_user.getpass, "getpass", lambda prompt="": next(replies))


def test_user_add_asks_for_the_password_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["user", "add", "--data-dir", str(tmp_path), "--role", "admin", "--company", "acme"]
    _prompted(monkeypatch, ["one", "two"])
    assert cli.main([*base, "--username", "ana"]) == 2
    assert "differ" in capsys.readouterr().err
    _prompted(monkeypatch, ["", ""])
    assert cli.main([*base, "--username", "ana"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    _prompted(monkeypatch, ["same pass!", "same pass!"])
    assert cli.main([*base, "--username", "ana"]) == 0
    assert "created admin 'ana'" in capsys.readouterr().out


async def test_users_change_their_own_password(hub: HubHarness) -> None:
    await _add_user(hub)
    _, login = await hub.post(
        "/api/v1/auth/login", {"username": "alice", "password": "correct horse"}
    )
    token = login["token"]
    change = "/api/v1/me/password"
    status, body = await hub.post(
        change, {"currentPassword": "wrong", "newPassword": "x" * 12}, token=token
    )
    assert (status, body["code"]) == (403, "invalid_credentials")
    status, body = await hub.post(
        change, {"currentPassword": "correct horse", "newPassword": "short"}, token=token
    )
    assert (status, body["code"], body["field"]) == (422, "weak_password", "newPassword")
    status, _ = await hub.post(
        change,
        {"currentPassword": "correct horse", "newPassword": "a much better one"},
        token=token,
    )
    assert status == 200
    status, _ = await hub.post(
        "/api/v1/auth/login", {"username": "alice", "password": "correct horse"}
    )
    assert status == 401
    status, _ = await hub.post(
        "/api/v1/auth/login", {"username": "alice", "password": "a much better one"}
    )
    assert status == 200
    status, body = await hub.post(
        change,
        {"currentPassword": "x", "newPassword": "y" * 12},
        token=hub.token(Role.MANAGER, "acme"),
    )
    assert (status, body["code"]) == (404, "not_found")  # a platform token has no account
