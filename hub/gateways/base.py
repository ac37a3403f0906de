"""What every namespace does the same way: connect auth, tenant rooms, validated dispatch.

Events from clients are routed through a table (``handlers``) rather than ``on_<event>``
methods, because catalog names contain colons. Every inbound event is checked against the
catalog (known event, sender role allowed, payload valid) before its handler runs, and every
refusal is an ack ``{"ok": false, "error": {"code", "message", "field"}}``: the connection
stays up and nothing is broadcast.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

import socketio

from hub.auth import AuthRefused, authenticate_connect
from hub.context import HubContext
from hub.services.connections import ClientSession
from hub.services.tenancy import TenantMismatch
from shared.events import PayloadError, lookup, parse
from shared.namespaces import Namespace
from shared.rooms import rooms_for_claims
from shared.tokens import Claims
from shared.wire import WireModel, error_dict

log = logging.getLogger("chit.hub.gateway")

Ack = dict[str, Any]
Handler = Callable[[ClientSession, WireModel], Awaitable[Ack]]


def ok(**fields: Any) -> Ack:
    """A success acknowledgement."""
    return {"ok": True, **fields}


def refused(code: str, message: str, field: str | None = None) -> Ack:
    """A failure acknowledgement."""
    return {"ok": False, "error": error_dict(code, message, field)}


class Gateway(socketio.AsyncNamespace):  # type: ignore[misc]
    """Base class of the three namespace gateways."""

    namespace_id: ClassVar[Namespace]

    def __init__(self, ctx: HubContext) -> None:
        super().__init__(str(self.namespace_id))
        self.ctx = ctx

    def handlers(self) -> Mapping[str, Handler]:
        """Inbound event name -> handler; subclasses add theirs."""
        return {}

    async def on_connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> None:
        """Authenticate, enter the tenant's rooms, register the session."""
        try:
            await self.ctx.keyring.ensure_for_connect(environ, auth)
            claims = authenticate_connect(environ, auth, self.namespace_id, self.ctx.keys)
            if claims.branch_id is not None and claims.company_id is not None:
                self.ctx.directory.bind(claims.branch_id, claims.company_id)
            await self.admit(claims)
        except (AuthRefused, TenantMismatch) as exc:
            self._log_refusal(sid, environ, exc.code, exc.message)
            self.ctx.observer.auth_refused(self.namespace_id, exc.code)
            raise socketio.exceptions.ConnectionRefusedError(
                exc.message, error_dict(exc.code, exc.message)
            ) from None
        session = ClientSession(sid, self.namespace_id, claims, environ.get("REMOTE_ADDR"))
        for room in rooms_for_claims(claims):
            await self.enter_room(sid, room)
        self.ctx.connections.add(session)
        self.ctx.observer.connected(session)
        log.info("client connected", extra=session.log_fields())
        await self.client_connected(session)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """Unregister the session and let the subclass clean up."""
        session = self.ctx.connections.remove(self.namespace_id, sid)
        if session is None:
            return
        self.ctx.observer.disconnected(session)
        log.info("client disconnected", extra={**session.log_fields(), "reason": str(reason)})
        await self.client_disconnected(session)

    async def admit(self, claims: Claims) -> None:
        """Hook for subclasses: refuse an authenticated client with AuthRefused."""

    async def client_connected(self, session: ClientSession) -> None:
        """Hook for subclasses, after the session is registered."""

    async def client_disconnected(self, session: ClientSession) -> None:
        """Hook for subclasses, after the session is unregistered."""

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Route connect/disconnect as usual and every other event through the catalog."""
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid, *data = args
        return await self._dispatch(sid, event, data)

    async def _dispatch(self, sid: str, event: str, data: list[Any]) -> Ack:
        session = self.ctx.connections.get(self.namespace_id, sid)
        if session is None:
            return refused("not_authenticated", "this connection is not authenticated")
        try:
            model, handler = self._admit(session, event, data)
            self.ctx.observer.event_in(self.namespace_id, event)
            return await handler(session, model)
        except PayloadError as exc:
            known = exc.code != "unknown_event"  # never let clients mint metric labels
            self.ctx.observer.invalid_payload(self.namespace_id, event if known else "?", exc.code)
            log.warning(
                "event refused",
                extra={
                    **session.log_fields(),
                    "event": event[:64],
                    "code": exc.code,
                    "error": exc.message,
                },
            )
            return refused(exc.code, exc.message, exc.field)

    def _admit(
        self, session: ClientSession, event: str, data: list[Any]
    ) -> tuple[WireModel, Handler]:
        spec = lookup(self.namespace_id, event)
        handler = self.handlers().get(event)
        if not spec.from_clients or handler is None:
            raise PayloadError("not_accepted", f"{event} is not accepted from clients")
        if session.role not in spec.senders:
            raise PayloadError("forbidden", f"role {session.role} may not send {event}")
        if len(data) != 1:
            raise PayloadError("invalid_payload", f"{event} takes exactly one payload object")
        return parse(spec, data[0]), handler

    def _log_refusal(self, sid: str, environ: Mapping[str, Any], code: str, message: str) -> None:
        log.warning(
            "connection refused",
            extra={
                "sid": sid,
                "namespace": str(self.namespace_id),
                "code": code,
                "reason": message,
                "remote": environ.get("REMOTE_ADDR"),
            },
        )
