"""Who a token speaks for: the roles, apart from token signing and verification.

Kept out of :mod:`shared.tokens` so that what only needs role names (the namespace table, the
event catalog, the agent) does not import PyJWT and, through it, cryptography (about 19 MiB of
a process's memory, most of an idle agent's budget).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who a token speaks for."""

    DESKTOP_APP = "desktop_app"
    MANAGER = "manager"
    STAFF = "staff"
    ADMIN = "admin"
    SERVICE = "service"
    #: A platform operator: hub-wide monitoring and alerts, no company. Distinct from a
    #: company's ``admin``, who sees only that company.
    OPERATOR = "operator"


WEB_ROLES = frozenset({Role.MANAGER, Role.STAFF, Role.ADMIN})
#: Roles that speak for no company: the platform's backend and its operators.
HUB_WIDE_ROLES = frozenset({Role.SERVICE, Role.OPERATOR})
