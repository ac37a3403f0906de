"""The hub's Socket.IO server: counts what it emits and refuses malformed event packets.

python-socketio hands every EVENT packet to ``_handle_event``, which reads ``data[0]`` as the
event name before any application code runs: a packet like ``42/orders,[1,2,3]`` (a number as
the name), ``42/orders,[]`` or ``42/orders,{}`` raised inside the library, and events named
``connect`` or ``disconnect`` reached the namespace's own connect and disconnect handlers.
There is no public hook before that point, so this module overrides the one private method,
``_handle_event``, and uses ``_send_packet`` and ``packet_class`` to answer. They are stable
across python-socketio 5.x and pyproject.toml pins the range; tests/hub/test_reserved_events.py
exercises every case over a real socket, so an upgrade that changes them fails there first.
"""

from __future__ import annotations

import logging
from typing import Any

from socketio import packet

from hub.limits import GuardedSocketServer
from hub.metrics import HubMetrics
from hub.services.refusals import RefusalLog
from shared.wire import error_dict

log = logging.getLogger("chit.hub.gateway")

#: Names Socket.IO itself uses; a client may never send an event by these names.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
MAX_EVENT_NAME = 64


def packet_problem(data: Any) -> tuple[str, str] | None:
    """Why an EVENT packet's data cannot be dispatched, as (code, message); None when it can."""
    if not isinstance(data, list) or not data:
        return "invalid_event", "an event packet must be a list: [name, payload]"
    name = data[0]
    if not isinstance(name, str) or not name or len(name) > MAX_EVENT_NAME:
        return "invalid_event", f"the event name must be a string of 1 to {MAX_EVENT_NAME} chars"
    if name in RESERVED_EVENTS:
        return "reserved_event", f"{name!r} is reserved by Socket.IO and cannot be sent"
    return None


class ChitServer(GuardedSocketServer):
    """The hub's server: hub.limits' guards, counts every emit, refuses malformed packets."""

    def __init__(self, metrics: HubMetrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics
        self.refusals = RefusalLog(log)

    async def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Emit and count."""
        self._metrics.event_out(kwargs.get("namespace") or "/", event)
        await super().emit(event, *args, **kwargs)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """Decode and route one engine.io message; an undecodable packet is refused, not raised.

        python-socketio decodes the packet (its JSON) before any hook, and a decoding error
        escaped into engineio's task as a logged traceback per message.
        """
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:  # json.JSONDecodeError, a packet type or id that is no number
            self._metrics.invalid_payload("?", "?", "invalid_packet")
            message = f"the packet cannot be decoded: {type(exc).__name__}"
            self.refusals.note(eio_sid, "invalid_packet", message, {"eio_sid": eio_sid})

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        problem = packet_problem(data)
        if problem is None:
            await super()._handle_event(eio_sid, namespace, id, data)
            return
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            return  # the library drops events of unconnected clients the same way
        code, message = problem
        self._metrics.invalid_payload(namespace, "?", code)
        self.refusals.note(sid, code, message, {"sid": sid, "namespace": namespace})
        if id is not None:
            ack = {"ok": False, "error": error_dict(code, message)}
            await self._send_packet(
                eio_sid, self.packet_class(packet.ACK, namespace=namespace, id=id, data=[ack])
            )
