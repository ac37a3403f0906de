"""Company streams on one hub instance: publishing into them, live delivery, replay on reconnect.

Publishing: :meth:`StreamService.publish` appends a draft to its company's stream (the
database for one hub; Redis, or the outbox while Redis is away, in a cluster). Clients never
get a streamed event any other way than from the stream, with its offset, so every client of
every instance sees a company's events in the same order.

Live delivery: the backend hands every appended entry, in stream order, to :meth:`deliver`,
which emits it to this instance's clients in the tenant's rooms, except a branch-scoped client
of another branch (it never sees, live or replayed, another branch's events) and the clients
being handed over (below).

Handover, for a web client that connects (with or without ``auth.since``): before it enters
its rooms it is registered as *replaying*, so live entries for it are buffered, not sent. The
hub then reads the stream's head H, replays every entry after ``since`` up to H that the client
may see, sends ``stream:status``, sends the buffered entries above H (all of them when nothing
was replayed: they all came after the connect), and switches the client to live delivery,
skipping any entry at or below what it already got. Nothing is sent twice
and nothing falls between replay and live. While the stream is unreachable the handover waits
(the client stays buffered) and completes when the stream is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import socketio

from hub.services.connections import ClientSession, ConnectionRegistry
from hub.services.outbox import OutboxedStream
from hub.services.stream_types import Appended, Draft, Entry, StreamBackend, StreamUnavailable
from shared.events import PayloadError
from shared.namespaces import Namespace
from shared.rooms import target_rooms
from shared.streams import (
    STATUS_EVENT,
    Head,
    RecoveryCode,
    SinceError,
    StreamOffset,
    recovery_problem,
    since_of,
    status_of,
)
from shared.tokens import WEB_ROLES

log = logging.getLogger("chit.hub.streams")

#: Entries read from the stream per round trip during a replay.
REPLAY_BATCH = 500
#: Seconds a connecting client may take to become fully connected before its handover is dropped.
CONNECT_WAIT = 10.0
#: Seconds between sweeps of departed clients (and the backend's age trim, every sixth).
SWEEP_EVERY = 10.0


@dataclass(eq=False)
class Member:
    """A client of a company on a namespace, as live delivery sees it."""

    session: ClientSession
    #: Entries held back while the client is handed over (None once it is live).
    buffer: list[Entry] | None = None
    #: Entries at or below this were already sent (by the replay); skipped when live.
    floor: StreamOffset | None = None
    attached_at: float = field(default_factory=time.monotonic)

    def sees(self, entry: Entry) -> bool:
        """Company-wide entries, and entries of its branch when the client is branch-scoped."""
        mine = self.session.branch_id
        return entry.branch_id is None or mine is None or mine == entry.branch_id

    def has(self, entry: Entry) -> bool:
        """Whether the client got this entry already (by replay or the buffered flush)."""
        floor = self.floor
        return floor is not None and floor.epoch == entry.offset.epoch and entry.seq <= floor.seq


class ClientGone(Exception):
    """The client disconnected during its handover."""


class StreamService:
    """Streams of one instance: publish, deliver live, hand connecting clients over."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        connections: ConnectionRegistry,
        backend: StreamBackend,
        outboxed: OutboxedStream | None = None,
        *,
        enabled: bool = True,
        replay_batch: int = REPLAY_BATCH,
    ) -> None:
        self._sio = sio
        self._connections = connections
        self.backend = backend
        self.outboxed = outboxed
        self.enabled = enabled
        self.replay_batch = replay_batch
        self._members: dict[tuple[Namespace, str], dict[str, Member]] = {}
        #: Per company: the newest offset this instance delivered or handed over up to.
        self._known: dict[str, StreamOffset] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- publishing -----------------------------------------------------------------------

    async def publish(self, draft: Draft) -> Appended:
        """Append to the stream (or the outbox); StreamUnavailable when neither can take it."""
        if self.outboxed is not None:
            return await self.outboxed.append(draft)
        self.backend.validate(draft)
        return await self.backend.append(draft)

    async def publish_many(
        self, drafts: Sequence[Draft]
    ) -> list[Appended | StreamUnavailable | PayloadError]:
        """:meth:`publish` each draft, in order, each with its own outcome.

        The database backend appends them in one transaction; through the outbox (a cluster)
        they are appended one after the other, as single publishes are.
        """
        if self.outboxed is not None:
            return [await self._one_outboxed(draft) for draft in drafts]
        outcomes: list[Appended | StreamUnavailable | PayloadError | None] = []
        valid: list[Draft] = []
        for draft in drafts:
            try:
                self.backend.validate(draft)
            except PayloadError as exc:
                outcomes.append(exc)
                continue
            outcomes.append(None)
            valid.append(draft)
        appended = iter(await self.backend.append_many(valid) if valid else [])
        return [outcome if outcome is not None else next(appended) for outcome in outcomes]

    async def _one_outboxed(self, draft: Draft) -> Appended | StreamUnavailable | PayloadError:
        assert self.outboxed is not None
        try:
            return await self.outboxed.append(draft)
        except (StreamUnavailable, PayloadError) as exc:
            return exc

    # --- live delivery --------------------------------------------------------------------

    async def deliver(self, entry: Entry) -> None:
        """The backend's live sink: emit an appended entry to this instance's clients."""
        try:
            await self._fill_gap(entry)
        except Exception:  # the entry itself still goes out; the next one retries the gap
            log.exception(
                "entries the feed skipped could not be read", extra={"company": entry.company_id}
            )
        try:
            await self._emit_live(entry)
        except Exception:
            log.exception("live delivery failed", extra={"company": entry.company_id})

    async def _fill_gap(self, entry: Entry) -> None:
        """Deliver entries the feed skipped (it is trimmed, or started late) before this one."""
        known = self._known.get(entry.company_id)
        if known is not None and known.epoch == entry.offset.epoch and entry.seq > known.seq + 1:
            log.warning(
                "stream feed skipped entries; reading them from the stream",
                extra={"company": entry.company_id, "from": known.seq + 1, "to": entry.seq - 1},
            )
            after = known.seq
            while after < entry.seq - 1:
                missing = await self.backend.read(entry.company_id, after, self.replay_batch)
                missing = [m for m in missing if m.seq < entry.seq]
                if not missing:
                    break
                for item in missing:
                    await self._emit_live(item)
                after = missing[-1].seq
        self._advance(entry.offset)

    def _advance(self, offset: StreamOffset) -> None:
        known = self._known.get(offset.stream)
        if known is None or known.epoch != offset.epoch or offset.seq > known.seq:
            self._known[offset.stream] = offset

    async def _emit_live(self, entry: Entry) -> None:
        skip: list[str] = []
        company_wide = entry.branch_id is None
        for sid, member in (self._members.get((entry.namespace, entry.company_id)) or {}).items():
            if company_wide and member.buffer is None and member.floor is None:
                continue  # a live client sees every company-wide entry (the common case)
            if not member.sees(entry):
                skip.append(sid)
            elif member.buffer is not None:
                member.buffer.append(entry)
                skip.append(sid)
            elif member.floor is not None:
                if member.has(entry):
                    skip.append(sid)
                else:
                    member.floor = None
        await self._sio.emit(
            entry.event,
            entry.wire(),
            room=target_rooms(entry.company_id, entry.branch_id),
            skip_sid=skip,
            namespace=str(entry.namespace),
            ignore_queue=True,
        )

    # --- connecting clients ---------------------------------------------------------------

    def attach(self, session: ClientSession, auth: Any) -> None:
        """Register a connecting client (before it enters its rooms); hand web clients over."""
        company = session.claims.company_id
        if not self.enabled or company is None:
            return
        web = session.role in WEB_ROLES
        member = Member(session, buffer=[] if web else None)
        self._members.setdefault((session.namespace, company), {})[session.sid] = member
        if web:
            self._spawn(self._handover(member, auth))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _forget(self, member: Member) -> None:
        members = self._members.get((member.session.namespace, member.session.company_id))
        if members is not None and members.get(member.session.sid) is member:
            del members[member.session.sid]
            if not members:
                del self._members[(member.session.namespace, member.session.company_id)]

    def _alive(self, member: Member) -> bool:
        session = member.session
        return self._connections.get(session.namespace, session.sid) is session

    async def _handover(self, member: Member, auth: Any) -> None:
        try:
            await self._until_connected(member)
            head = await self._retrying(member, self._ready_head, member.session.company_id)
            replayed, code, message = await self._recover(member, auth, head)
            status = status_of(head, code, replayed, message)
            await self._send(member, STATUS_EVENT, status.to_wire())
            # Replayed up to the head: buffered entries up to it were sent. Not replayed: every
            # buffered entry came after the connect, so the client gets all of them.
            buffered = await self._go_live(member, head.offset if code is None else None)
            self._advance(head.offset)
            log.info(
                "client handed over",
                extra={
                    **member.session.log_fields(),
                    "replayed": replayed,
                    "buffered": buffered,
                    "code": code,
                },
            )
        except ClientGone:
            self._forget(member)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handover failed; closing the socket", extra=member.session.log_fields())
            self._forget(member)
            session = member.session
            with contextlib.suppress(Exception):
                await self._sio.disconnect(session.sid, namespace=str(session.namespace))

    async def _recover(
        self, member: Member, auth: Any, head: Head
    ) -> tuple[int, RecoveryCode | None, str | None]:
        """Replay what the client missed: (how many were sent, why not recovered, detail)."""
        try:
            since = since_of(auth)
        except SinceError as exc:
            return 0, exc.code, exc.message
        if since is None:
            return 0, "offset_missing", None
        code = recovery_problem(since, head)
        if code is not None or since.seq == head.seq:
            return 0, code, None
        replayed, code = await self._replay(member, since.seq, head)
        return replayed, code, None

    async def _replay(
        self, member: Member, after: int, head: Head
    ) -> tuple[int, RecoveryCode | None]:
        """Send every entry after ``after`` up to the head that the client may see, in order."""
        sent = 0
        company, namespace = member.session.company_id, member.session.namespace
        while after < head.seq:
            read = self.backend.read
            entries = await self._retrying(member, read, company, after, self.replay_batch)
            if not entries:
                return sent, "offset_expired"
            for entry in entries:
                if entry.seq > head.seq:
                    return sent, None
                if entry.offset.epoch != head.epoch:
                    return sent, "offset_epoch"
                if entry.seq != after + 1:
                    return sent, "offset_expired"  # trimmed while we read
                after = entry.seq
                if entry.namespace is namespace and member.sees(entry):
                    await self._send(member, entry.event, entry.wire())
                    sent += 1
        return sent, None

    async def _go_live(self, member: Member, floor: StreamOffset | None) -> int:
        """Send what was buffered above ``floor``, then let live delivery take over; how many."""
        member.floor = floor
        sent = 0
        while member.buffer:
            pending, member.buffer = member.buffer, []
            for entry in pending:
                if not member.has(entry):
                    await self._send(member, entry.event, entry.wire())
                    member.floor = entry.offset
                    sent += 1
        member.buffer = None  # no await since the last check: nothing can slip in between
        return sent

    async def _send(self, member: Member, event: str, data: dict[str, Any]) -> None:
        if not self._alive(member):
            raise ClientGone
        session = member.session
        await self._sio.emit(
            event, data, to=session.sid, namespace=str(session.namespace), ignore_queue=True
        )

    async def _until_connected(self, member: Member) -> None:
        """Wait until the connect handshake finished (events sent earlier could precede it)."""
        session = member.session
        deadline = time.monotonic() + CONNECT_WAIT
        manager, namespace = self._sio.manager, str(session.namespace)
        while not (self._alive(member) and manager.is_connected(session.sid, namespace)):
            if time.monotonic() > deadline:
                raise ClientGone
            await asyncio.sleep(0.005)

    async def _ready_head(self, company_id: str) -> Head:
        ready = getattr(self.backend, "ready", None)
        if ready is not None and not await ready(1.0):
            raise StreamUnavailable("the stream feed is not live yet")
        return await self.backend.head(company_id)

    async def _retrying(self, member: Member, work: Any, *args: Any) -> Any:
        """``work(*args)``, retried while the stream is unavailable and the client still here."""
        delay = 0.25
        while True:
            try:
                return await work(*args)
            except StreamUnavailable as exc:
                log.info("stream unavailable during a handover; waiting", extra={"error": str(exc)})
            if not self._alive(member):
                raise ClientGone
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    # --- lifecycle ------------------------------------------------------------------------

    def sweep(self) -> int:
        """Forget departed clients (live delivery never waits on them); how many went."""
        gone = [
            member
            for members in list(self._members.values())
            for member in list(members.values())
            if not self._alive(member) and time.monotonic() - member.attached_at > CONNECT_WAIT
        ]
        for member in gone:
            self._forget(member)
        return len(gone)

    async def _housekeeping(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            self.sweep()
            rounds += 1
            if rounds % 6 == 0:
                try:
                    await self.backend.trim()
                except Exception:
                    log.exception("stream trim failed")

    async def serving(self, _app: object) -> AsyncIterator[None]:
        """aiohttp cleanup context: the live feed, the outbox flusher and housekeeping."""
        if not self.enabled:
            yield
            return
        await self.backend.start(self.deliver)
        tasks = [asyncio.create_task(self._housekeeping())]
        if self.outboxed is not None:
            await self.outboxed.resume()
            tasks.append(asyncio.create_task(self.outboxed.flush_forever()))
        try:
            yield
        finally:
            for task in [*tasks, *self._tasks]:
                task.cancel()
            await asyncio.gather(*tasks, *self._tasks, return_exceptions=True)
            await self.backend.stop()
            if self.outboxed is not None:
                await self.outboxed.outbox.close()
