"""Emit catalog events to tenant rooms: the one place the hub broadcasts.

A streamed event (shared.streams.STREAMED) is not emitted here: it is appended to its
company's stream, and the stream delivers it, with its offset, to every instance's clients.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hub.services.stream_types import Appended, Draft, StreamUnavailable
from hub.services.streams import StreamService
from shared.events import EventSpec, PayloadError
from shared.rooms import target_rooms
from shared.streams import is_streamed
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


@dataclass(frozen=True)
class Outgoing:
    """One event of a burst to publish (what :meth:`Publisher.publish` takes)."""

    spec: EventSpec
    payload: WireModel
    company_id: str
    branch_id: str | None = None
    event_id: str | None = None
    answer: dict[str, Any] | None = None


@dataclass(frozen=True)
class Publication:
    """What publishing one event did: its rooms, and its place in the stream (if streamed)."""

    rooms: list[str]
    appended: Appended | None = None


class Publisher:
    """Validated events out to ``company:{id}`` and ``branch:{id}`` rooms of one namespace."""

    def __init__(self, emitter: Emitter, streams: StreamService | None = None) -> None:
        self._emitter = emitter
        self._streams: StreamService | None = None
        self.use_streams(streams)

    def use_streams(self, streams: StreamService | None) -> None:
        """Send streamed events through ``streams`` (when it is enabled) from now on."""
        self._streams = streams if streams is not None and streams.enabled else None

    async def to_tenant(
        self,
        spec: EventSpec,
        payload: WireModel,
        company_id: str,
        branch_id: str | None = None,
    ) -> list[str]:
        """Emit to the company room and, when given, the branch room; returns the rooms.

        Callers have checked that the branch is the company's (the directory, or the store).
        Streamed events go through the stream (StreamUnavailable when it cannot take them).
        """
        return (await self.publish(spec, payload, company_id, branch_id)).rooms

    async def publish(
        self,
        spec: EventSpec,
        payload: WireModel,
        company_id: str,
        branch_id: str | None = None,
        event_id: str | None = None,
        answer: dict[str, Any] | None = None,
    ) -> Publication:
        """:meth:`to_tenant` with what the publish API answers: the offset, or a duplicate."""
        item = Outgoing(spec, payload, company_id, branch_id, event_id, answer)
        if self._streams is not None and is_streamed(spec.namespace, spec.name):
            appended = await self._streams.publish(self._draft(item))
            return self._streamed(item, appended)
        return await self._emitted(item)

    async def publish_many(
        self, items: Sequence[Outgoing]
    ) -> list[Publication | StreamUnavailable | PayloadError]:
        """:meth:`publish` each of a burst, in order, each with its own outcome.

        Consecutive streamed events are appended together (one transaction on the database
        backend); an event that is not streamed goes out after those before it.
        """
        outcomes: list[Publication | StreamUnavailable | PayloadError] = []
        run: list[Outgoing] = []
        for item in items:
            if self._streams is not None and is_streamed(item.spec.namespace, item.spec.name):
                run.append(item)
                continue
            outcomes += await self._streamed_run(run)
            run = []
            outcomes.append(await self._emitted(item))
        outcomes += await self._streamed_run(run)
        return outcomes

    async def _streamed_run(
        self, run: list[Outgoing]
    ) -> list[Publication | StreamUnavailable | PayloadError]:
        if not run or self._streams is None:
            return []
        appended = await self._streams.publish_many([self._draft(item) for item in run])
        return [
            a if isinstance(a, Exception) else self._streamed(item, a)
            for item, a in zip(run, appended, strict=True)
        ]

    @staticmethod
    def _draft(item: Outgoing) -> Draft:
        rooms = target_rooms(item.company_id, item.branch_id)
        return Draft(
            item.company_id,
            item.branch_id,
            item.spec.namespace,
            item.spec.name,
            item.payload.to_wire(),
            event_id=item.event_id,
            answer={**(item.answer or {}), "rooms": rooms},
        )

    def _streamed(self, item: Outgoing, appended: Appended) -> Publication:
        rooms = target_rooms(item.company_id, item.branch_id)
        self._logged(item.spec, item.payload, rooms, appended)
        return Publication(rooms, appended)

    async def _emitted(self, item: Outgoing) -> Publication:
        rooms = target_rooms(item.company_id, item.branch_id)
        spec = item.spec
        await self._emitter.emit(
            spec.name, item.payload.to_wire(), room=rooms, namespace=str(spec.namespace)
        )
        self._logged(spec, item.payload, rooms, None)
        return Publication(rooms)

    @staticmethod
    def _logged(
        spec: EventSpec, payload: WireModel, rooms: list[str], appended: Appended | None
    ) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        entry = appended.entry if appended is not None else None
        log.info(
            "event emitted" if appended is None else "event streamed",
            extra={
                "event": spec.name,
                "namespace": str(spec.namespace),
                "rooms": ",".join(rooms),
                "correlation_id": getattr(payload, "correlation_id", None),
                "seq": entry.seq if entry is not None else None,
                "queued": appended.queued if appended is not None else None,
                "duplicate": appended.duplicate if appended is not None else None,
            },
        )

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
