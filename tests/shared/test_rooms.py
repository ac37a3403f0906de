"""Room names: one builder, colon separator, ids that cannot forge another room."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.rooms import RoomNameError, branch_room, company_room, rooms_for_claims, target_rooms
from shared.tokens import Claims, Role

ROOT = Path(__file__).resolve().parents[2]


def test_room_names_use_colon() -> None:
    assert company_room("acme") == "company:acme"
    assert branch_room("b-1") == "branch:b-1"
    assert target_rooms("acme", "b1") == ["company:acme", "branch:b1"]
    assert target_rooms("acme") == ["company:acme"]


@pytest.mark.parametrize("bad", ["", "a:b", "acme/x", " acme", "a b", "x" * 200, "company:1"])
def test_ids_that_could_forge_rooms_are_refused(bad: str) -> None:
    with pytest.raises(RoomNameError):
        company_room(bad)
    with pytest.raises(RoomNameError):
        branch_room(bad)


def test_rooms_come_from_claims() -> None:
    claims = Claims(sub="u", role=Role.STAFF, company_id="acme", branch_id="b1")
    assert rooms_for_claims(claims) == ["company:acme", "branch:b1"]
    no_branch = Claims(sub="u", role=Role.MANAGER, company_id="acme")
    assert rooms_for_claims(no_branch) == ["company:acme"]


def test_no_underscore_room_variants_anywhere() -> None:
    pattern = re.compile(r"""["'](company|branch)_\{""")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("shared", "hub", "agent")
        for path in (ROOT / folder).rglob("*.py")
        if pattern.search(path.read_text())
    ]
    assert offenders == []


def test_room_names_are_built_only_in_rooms_module() -> None:
    pattern = re.compile(r"""f["'](company|branch):\{""")
    builders = [
        str(path.relative_to(ROOT))
        for folder in ("shared", "hub", "agent")
        for path in (ROOT / folder).rglob("*.py")
        if pattern.search(path.read_text())
    ]
    assert builders == ["shared/rooms.py"]
