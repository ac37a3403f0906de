"""Pairing codes: human-typable, stored hashed, single use, short-lived."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.store import Database, PairingError, TenantConflict
from hub.store.models import PairingCode
from hub.store.pairing import (
    ALPHABET,
    create_pairing_code,
    hash_code,
    is_well_formed,
    normalize_code,
    redeem_pairing_code,
)
from tests.hub.store.conftest import T0, Tenants


def test_the_alphabet_has_no_look_alikes() -> None:
    assert not set("01ILO") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET) == 31


@pytest.mark.parametrize(
    "typed", ["ABCD-EFGH", "abcd efgh", " abcdefgh ", "AB-CD-EF-GH", "abcd\tefgh"]
)
def test_typing_is_forgiving(typed: str) -> None:
    assert normalize_code(typed) == "ABCDEFGH"
    assert hash_code(typed) == hash_code("ABCD-EFGH")


@pytest.mark.parametrize("typed", ["", "ABCD-EFG", "ABCD-EFGHJ", "ABCD-EFG0", "ABCD-EFGÉ"])
def test_malformed_codes(typed: str) -> None:
    assert not is_well_formed(typed)


async def _code(db: Database, tenants: Tenants, **kwargs: Any) -> str:
    async with db.session() as s:
        return await create_pairing_code(s, tenants.company, tenants.branch, "alice", **kwargs)


async def test_a_code_is_stored_hashed_and_redeemed_once(db: Database, tenants: Tenants) -> None:
    code = await _code(db, tenants, now=T0)
    assert re.fullmatch(f"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", code)
    async with db.session() as s:
        stored = (await s.scalars(select(PairingCode))).one()
    assert stored.code_hash == hash_code(code) and code not in stored.code_hash
    assert stored.expires_at == T0 + timedelta(minutes=10)
    typed = code.lower().replace("-", " ")
    async with db.session() as s:
        redeemed = await redeem_pairing_code(s, typed, "agent-new", now=T0 + timedelta(minutes=1))
    assert (redeemed.company_id, redeemed.branch_id) == (tenants.company, tenants.branch)
    with pytest.raises(PairingError) as caught:
        async with db.session() as s:
            await redeem_pairing_code(s, code, "agent-other", now=T0 + timedelta(minutes=2))
    assert caught.value.code == "pairing_code_used"
    async with db.session() as s:
        stored = (await s.scalars(select(PairingCode))).one()
    assert stored.agent_id == "agent-new" and stored.used_at == T0 + timedelta(minutes=1)


async def test_an_expired_code_is_refused(db: Database, tenants: Tenants) -> None:
    code = await _code(db, tenants, ttl=timedelta(seconds=30), now=T0)
    with pytest.raises(PairingError) as caught:
        async with db.session() as s:
            await redeem_pairing_code(s, code, "agent-new", now=T0 + timedelta(seconds=30))
    assert caught.value.code == "pairing_code_expired"


@pytest.mark.parametrize("typed", ["2345-6789", "nonsense", ""])
async def test_unknown_or_malformed_codes_are_invalid(
    db: Database, tenants: Tenants, typed: str
) -> None:
    await _code(db, tenants)
    with pytest.raises(PairingError) as caught:
        async with db.session() as s:
            await redeem_pairing_code(s, typed, "agent-new")
    assert caught.value.code == "pairing_code_invalid"


async def test_two_agents_racing_for_one_code(db: Database, tenants: Tenants) -> None:
    code = await _code(db, tenants)

    async def redeem(agent_id: str) -> str:
        try:
            async with db.session() as s:
                await redeem_pairing_code(s, code, agent_id)
        except PairingError as error:
            return error.code
        return "ok"

    outcomes = await asyncio.gather(*(redeem(f"agent-{i}") for i in range(4)))
    assert sorted(outcomes) == ["ok", "pairing_code_used", "pairing_code_used", "pairing_code_used"]


async def test_codes_only_for_the_companys_own_branch(db: Database, tenants: Tenants) -> None:
    with pytest.raises(TenantConflict):
        async with db.session() as s:
            await create_pairing_code(s, tenants.company, tenants.other_branch, "alice")
