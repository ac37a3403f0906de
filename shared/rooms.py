"""The only place a room name is built. Colon separator, always: ``company:{id}``, ``branch:{id}``.

Ids are :data:`shared.wire.Identifier` values, which cannot contain a colon, so a room name
can never be forged into another tenant's by a crafted id.
"""

from __future__ import annotations

import re

from shared.tokens import Claims, Role

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class RoomNameError(ValueError):
    """An id that cannot be part of a room name."""


def _checked(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise RoomNameError(f"{kind} id {value!r} is not a valid identifier")
    return value


def company_room(company_id: str) -> str:
    """The room of every client of a company."""
    return f"company:{_checked('company', company_id)}"


def branch_room(branch_id: str) -> str:
    """The room of every client of a branch."""
    return f"branch:{_checked('branch', branch_id)}"


def target_rooms(company_id: str, branch_id: str | None = None) -> list[str]:
    """Rooms an event for a company (and optionally one of its branches) is emitted to."""
    rooms = [company_room(company_id)]
    if branch_id is not None:
        rooms.append(branch_room(branch_id))
    return rooms


#: Where alerts that concern no single company (the whole hub) go: platform operators only.
#: A company's ``admin`` never joins it: company admins see their own company's rooms alone.
OPERATORS_ROOM = "role:operator"


def rooms_for_claims(claims: Claims) -> list[str]:
    """Rooms a connecting client enters, derived from its verified claims only."""
    if claims.role is Role.OPERATOR:
        return [OPERATORS_ROOM]
    if claims.company_id is None:
        return []
    return target_rooms(claims.company_id, claims.branch_id)
