"""What every namespace does the same way: connect auth, tenant rooms, validated dispatch.

Events from clients are routed through a table (``handlers``) rather than ``on_<event>``
methods, because catalog names contain colons. Every inbound event is checked against the
catalog (known event, sender role allowed, payload valid) before its handler runs, and every
refusal is an ack ``{"ok": false, "error": {"code", "message", "field"}}``: the connection
stays up and nothing is broadcast. A handler that fails answers ``internal``; nothing escapes
as an unretrieved task exception. Refusals are logged once per interval per client.

A connect is admitted only when the token verifies, the role may use the namespace, and the
token's branch (if any) is a provisioned branch of the token's company in the database. The
socket is closed when its token expires unless the client sends ``auth:refresh`` first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn

import socketio

from hub.auth import AuthRefused, authenticate_connect, check_token
from hub.context import HubContext
from hub.services.connections import ClientSession
from hub.services.expiry import SessionExpiry
from hub.services.refusals import RefusalLog
from hub.services.tenancy import UnknownBranch
from hub.ws_link import REMOTE_KEY
from shared.events import AuthExpired, AuthExpiring, AuthRefresh, PayloadError, lookup, parse
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
        self.expiry = SessionExpiry(ctx.keys.leeway, self._token_expiring, self._token_expired)
        self.refusals = RefusalLog(log)
        self._common: dict[str, Handler] = {"auth:refresh": self._refresh}

    def handlers(self) -> Mapping[str, Handler]:
        """Inbound event name -> handler; subclasses add theirs."""
        return {}

    async def on_connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> None:
        """Authenticate, check the branch, enter the tenant's rooms, register the session."""
        try:
            async with self.ctx.admission.admitting():
                claims = await self._admit_connect(environ, auth)
        except AuthRefused as exc:
            self._refuse_connect(sid, environ, exc.code, exc.message, exc.retry_after)
        except UnknownBranch as exc:
            self._refuse_connect(sid, environ, exc.code, exc.message)
        except Exception:
            log.exception("connect check failed", extra={"sid": sid})
            self._refuse_connect(
                sid, environ, "unavailable", "the hub could not check this connection; retry"
            )
        session = ClientSession(sid, self.namespace_id, claims, _remote(environ))
        # Streams: registered before entering the rooms, so no live event can reach the client
        # ahead of its replay (auth.since); it gets stream:status once connected.
        if self.ctx.streams is not None:
            self.ctx.streams.attach(session, auth)
        for room in self.rooms_for(claims):
            await self.enter_room(sid, room)
        self.ctx.connections.add(session)
        self.expiry.schedule(session)
        self.ctx.observer.connected(session)
        log.info("client connected", extra=session.log_fields())
        await self.client_connected(session)

    def rooms_for(self, claims: Claims) -> list[str]:
        """The rooms a client of this namespace enters (its tenant's, from its claims)."""
        return rooms_for_claims(claims)

    async def _admit_connect(self, environ: Mapping[str, Any], auth: Any) -> Claims:
        await self.ctx.keyring.ensure_for_connect(environ, auth)  # a rotated platform key
        claims = authenticate_connect(environ, auth, self.namespace_id, self.ctx.keys)
        if claims.branch_id is not None:
            assert claims.company_id is not None  # socket tokens always name their company
            await self.ctx.directory.check(claims.company_id, claims.branch_id)
        await self.admit(claims)
        return claims

    def _refuse_connect(
        self,
        sid: str,
        environ: Mapping[str, Any],
        code: str,
        message: str,
        retry_after: float | None = None,
    ) -> NoReturn:
        self._log_refusal(sid, environ, code, message)
        self.ctx.observer.auth_refused(self.namespace_id, code)
        data = AuthRefused(code, message, retry_after).as_dict()
        raise socketio.exceptions.ConnectionRefusedError(message, data)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """Unregister the session and let the subclass clean up."""
        session = self.ctx.connections.remove(self.namespace_id, sid)
        if session is None:
            return
        self.expiry.cancel(session)
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
        """Route the library's own connect/disconnect; every client event through the catalog.

        The server refuses client packets named ``connect`` or ``disconnect`` before they get
        here (hub.sio_server); as a second guard, a sid that is already fully connected is a
        client, never the library, so its ``connect``/``disconnect`` is refused as well.
        """
        sid = args[0] if args else None
        if event in ("connect", "disconnect") and not self._is_live(sid):
            return await super().trigger_event(event, *args)
        _, *data = args
        return await self._dispatch(str(sid), event, data)

    def _is_live(self, sid: Any) -> bool:
        return isinstance(sid, str) and bool(self.server.manager.is_connected(sid, self.namespace))

    async def _dispatch(self, sid: str, event: Any, data: list[Any]) -> Ack:
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
            fields = {**session.log_fields(), "event": str(event)[:64]}
            self.refusals.note(sid, exc.code, exc.message, fields)
            return refused(exc.code, exc.message, exc.field)
        except Exception:
            log.exception("event handler failed", extra={**session.log_fields(), "event": event})
            return refused("internal", "the hub could not handle this event; retry later")

    def _admit(
        self, session: ClientSession, event: Any, data: list[Any]
    ) -> tuple[WireModel, Handler]:
        if not isinstance(event, str) or event in ("connect", "disconnect"):
            raise PayloadError("reserved_event", "this event name cannot be sent by clients")
        spec = lookup(self.namespace_id, event)
        handler = self._common.get(event) or self.handlers().get(event)
        if not spec.from_clients or handler is None:
            raise PayloadError("not_accepted", f"{event} is not accepted from clients")
        if session.role not in spec.senders:
            raise PayloadError("forbidden", f"role {session.role} may not send {event}")
        if len(data) != 1:
            raise PayloadError("invalid_payload", f"{event} takes exactly one payload object")
        return parse(spec, data[0]), handler

    async def _refresh(self, session: ClientSession, model: WireModel) -> Ack:
        """Replace the session's token with a new one for the same identity and tenant."""
        assert isinstance(model, AuthRefresh)
        await self.ctx.keyring.ensure_key_for(model.token)
        try:
            claims = check_token(model.token, self.ctx.keys)
        except AuthRefused as exc:
            return refused(exc.code, exc.message, "token")
        if _identity(claims) != _identity(session.claims):
            return refused(
                "refresh_mismatch",
                "the new token must name the same subject, role, company and branch",
                "token",
            )
        session.claims = claims
        self.expiry.schedule(session)
        log.info("token refreshed", extra=session.log_fields())
        return ok(expiresAt=_iso(claims.exp))

    async def _token_expiring(self, session: ClientSession, expires_at: datetime) -> None:
        payload = AuthExpiring(expires_at=expires_at).to_wire()
        await self.emit("auth:expiring", payload, to=session.sid)

    async def _token_expired(self, session: ClientSession) -> None:
        message = "the connection's token has expired; reconnect with a new token"
        await self.emit("auth:expired", AuthExpired(message=message).to_wire(), to=session.sid)
        await self.disconnect(session.sid)

    def _log_refusal(self, sid: str, environ: Mapping[str, Any], code: str, message: str) -> None:
        log.warning(
            "connection refused",
            extra={
                "sid": sid,
                "namespace": str(self.namespace_id),
                "code": code,
                "reason": message,
                "remote": _remote(environ),
            },
        )


def _identity(claims: Claims) -> tuple[object, ...]:
    """What a refreshed token must keep: who it is, what it may do, and where."""
    return (claims.sub, claims.role, claims.company_id, claims.branch_id, claims.agent_id)


def _iso(exp: float | None) -> str | None:
    return None if exp is None else datetime.fromtimestamp(exp, UTC).isoformat()


def _remote(environ: Mapping[str, Any]) -> str | None:
    """The client's address (hub.limits resolves it, through trusted proxies too).

    engineio's aiohttp driver sets ``REMOTE_ADDR`` to 127.0.0.1 whatever the peer.
    """
    remote = environ.get(REMOTE_KEY) or environ.get("REMOTE_ADDR")
    return str(remote) if remote is not None else None
