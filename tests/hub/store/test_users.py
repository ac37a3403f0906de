"""Users: Argon2id hashes, unique usernames, authentication that reveals nothing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from hub.store import AlreadyExists, Database, NotFound, TenantConflict, passwords
from hub.store.models import User
from hub.store.users import (
    authenticate,
    count_users,
    create_user,
    get_user,
    list_users,
    set_disabled,
    set_password,
)
from tests.hub.store.conftest import Tenants

#: Cheap parameters so the store tests stay fast; the real ones are checked below.
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
WEAKER = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash with CHEAP parameters unless a test puts the real hasher back."""
    monkeypatch.setattr(passwords, "HASHER", CHEAP)


def test_hash_and_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher())
    hashed = passwords.hash_password("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "correct horse" not in hashed
    assert passwords.verify_password(hashed, "correct horse")
    assert not passwords.verify_password(hashed, "wrong")
    assert not passwords.verify_password("not a hash", "correct horse")
    with pytest.raises(ValueError, match="empty"):
        passwords.hash_password("")


async def test_create_and_authenticate(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        assert await count_users(s) == 0
        user = await create_user(s, " Alice ", "s3cret-pass", "manager", tenants.company)
    assert user.username == "alice" and user.role == "manager" and not user.disabled
    async with db.session() as s:
        assert await authenticate(s, "ALICE", "s3cret-pass") == user
        assert await authenticate(s, "alice", "wrong") is None
        assert await authenticate(s, "bob", "s3cret-pass") is None
        assert await get_user(s, user.id) == user
        assert await count_users(s) == 1


async def test_duplicate_username_is_refused(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        await create_user(s, "alice", "pw-one-long", "admin", tenants.company)
    with pytest.raises(AlreadyExists) as caught:
        async with db.session() as s:
            await create_user(s, "Alice", "pw-two-long", "staff", tenants.other_company)
    assert caught.value.code == "already_exists"


async def test_user_tenancy_is_checked(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        with pytest.raises(TenantConflict):
            await create_user(s, "x", "pw", "staff", tenants.company, tenants.other_branch)
        with pytest.raises(NotFound):
            await create_user(s, "y", "pw", "staff", "no-such-company")
        with pytest.raises(ValueError, match="roles"):
            await create_user(s, "z", "pw", "root", tenants.company)  # type: ignore[arg-type]
        staff = await create_user(s, "carol", "pw", "staff", tenants.company, tenants.branch)
        await create_user(s, "dave", "pw", "staff", tenants.other_company)
    assert staff.branch_id == tenants.branch
    async with db.session() as s:
        assert [u.username for u in await list_users(s, tenants.company)] == ["carol"]


async def test_disabled_users_cannot_sign_in(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        user = await create_user(s, "erin", "pw-erin", "staff", tenants.company)
        assert not await set_disabled(s, tenants.other_company, user.id, True)
        assert await set_disabled(s, tenants.company, user.id, True)
    async with db.session() as s:
        assert await authenticate(s, "erin", "pw-erin") is None
        await set_disabled(s, tenants.company, user.id, False)
        assert await authenticate(s, "erin", "pw-erin") is not None


async def test_weak_hashes_are_upgraded_on_sign_in(
    db: Database, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.session() as s:
        user = await create_user(s, "frank", "pw-frank", "staff", tenants.company)
        monkeypatch.setattr(passwords, "HASHER", WEAKER)
        await set_password(s, user.id, "pw-frank")
    monkeypatch.setattr(passwords, "HASHER", CHEAP)
    async with db.session() as s:
        assert passwords.needs_rehash((await s.get_one(User, user.id)).password_hash)
        assert await authenticate(s, "frank", "pw-frank") is not None
    async with db.session() as s:
        stored = await s.get_one(User, user.id)
    assert not passwords.needs_rehash(stored.password_hash)
    assert "m=1024" in stored.password_hash
