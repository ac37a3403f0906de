"""Emit catalog events to tenant rooms: the one place the hub broadcasts."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from shared.events import EventSpec
from shared.rooms import target_rooms
from shared.wire import WireModel

log = logging.getLogger("chit.hub.publish")


class Emitter(Protocol):
    """The part of socketio.AsyncServer the publisher uses."""

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
    ) -> None: ...

    async def disconnect(self, sid: str, namespace: str | None = None) -> None: ...


class Publisher:
    """Validated events out to ``company:{id}`` and ``branch:{id}`` rooms of one namespace."""

    def __init__(self, emitter: Emitter) -> None:
        self._emitter = emitter

    async def to_tenant(
        self,
        spec: EventSpec,
        payload: WireModel,
        company_id: str,
        branch_id: str | None = None,
    ) -> list[str]:
        """Emit to the company room and, when given, the branch room; returns the rooms.

        Callers have checked that the branch is the company's (the directory, or the store).
        """
        rooms = target_rooms(company_id, branch_id)
        await self._emitter.emit(
            spec.name, payload.to_wire(), room=rooms, namespace=str(spec.namespace)
        )
        log.info(
            "event emitted",
            extra={
                "event": spec.name,
                "namespace": str(spec.namespace),
                "rooms": ",".join(rooms),
                "correlation_id": getattr(payload, "correlation_id", None),
            },
        )
        return rooms

    async def to_room(self, spec: EventSpec, payload: WireModel, room: str) -> None:
        """Emit to one named room (the operators' room for hub-wide alerts)."""
        await self._emitter.emit(
            spec.name, payload.to_wire(), room=room, namespace=str(spec.namespace)
        )

    async def disconnect(self, sid: str, namespace: str) -> None:
        """Close one client's connection on a namespace."""
        await self._emitter.disconnect(sid, namespace=namespace)

    async def to_sid(self, spec: EventSpec, payload: WireModel, sid: str) -> None:
        """Emit to one client (for example the agent that owns a printer)."""
        await self._emitter.emit(
            spec.name, payload.to_wire(), to=sid, namespace=str(spec.namespace)
        )
