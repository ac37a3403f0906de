"""The three Socket.IO namespaces and which roles may connect to each."""

from __future__ import annotations

from enum import StrEnum

from shared.roles import WEB_ROLES, Role


class Namespace(StrEnum):
    """A Socket.IO namespace hosted by the hub."""

    PRINTING = "/printing-ws"
    ORDERS = "/orders"
    AVAILABILITY = "/availability"


#: Desktop agents live on /printing-ws only; web clients of the listed roles may use all three.
#: Operators watch hub-wide alerts on /printing-ws. Service tokens publish over REST and never
#: hold a socket.
ALLOWED_ROLES: dict[Namespace, frozenset[Role]] = {
    Namespace.PRINTING: frozenset({Role.DESKTOP_APP, Role.OPERATOR, *WEB_ROLES}),
    Namespace.ORDERS: frozenset(WEB_ROLES),
    Namespace.AVAILABILITY: frozenset(WEB_ROLES),
}


def may_connect(namespace: Namespace, role: Role) -> bool:
    """Whether a client with ``role`` may connect to ``namespace``."""
    return role in ALLOWED_ROLES[namespace]
