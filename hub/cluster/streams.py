"""The stream backend of a cluster: one Redis Stream per company, and one feed every instance reads.

Keys (under the cluster prefix ``P``):

- ``P:stream:{company}``: the company's stream. Entry ids are ``{seq}-0``, so replaying
  "after seq n" is ``XRANGE (n-0 +``; each entry keeps its append time ``t`` for the age trim.
- ``P:stream:{company}:meta``: a hash of the stream's ``epoch`` and last ``seq``. The epoch is
  written once (``HSETNX``) when the stream's history starts; a Redis that lost its data has
  no meta, so the next append or connect starts a new epoch and old offsets are refused.
- ``P:feed``: every append of every company, in one total order. Each instance reads it with
  ``XREAD BLOCK`` and delivers to its own clients, so every instance delivers the same events
  in the same order (pub/sub would let two publishers' events cross on the way).
- ``P:eid:{company}:{eventId}`` / ``P:nonce:{nonce}``: "appended already", with the first
  answer, for ``stream_max_age`` (a publisher's eventId) or an hour (the hub's own retries).

One Lua script does a whole append atomically: the duplicate check, the seq bump, the
``XADD ... MAXLEN ~`` to the company stream, the age trim from its oldest end, the feed entry
and the duplicate key. A stream key expires when nothing was appended for ``max_age`` (all of
it would be too old); the meta key stays, so offsets keep comparing against the right epoch.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hub.cluster.manager import MessageTooLarge
from hub.services.stream_db import new_epoch
from hub.services.stream_types import Appended, Draft, Entry, Sink, StreamUnavailable
from shared.namespaces import Namespace
from shared.streams import Head, StreamOffset

log = logging.getLogger("chit.hub.streams")

#: Seconds one Redis command may take.
TIMEOUT = 5.0
#: How long XREAD blocks on the feed before asking again (milliseconds).
BLOCK_MS = 2000
#: The feed only has to cover how far a reader can lag; replay reads the company streams.
FEED_MAXLEN = 20_000
#: How long the hub remembers its own appends, so a retried outbox row is not appended twice.
NONCE_TTL_MS = 3_600_000
#: Expired entries the append script deletes from a stream's oldest end per call, at most.
TRIM_SCAN = 64

APPEND = """
-- KEYS: stream, meta, feed, dedupe key
-- ARGV: maxlen, max_age_ms, feed_maxlen, new_epoch, ns, event, branch, data, answer,
--       dedupe_ttl_ms, company, trim_scan
local prev = redis.call('GET', KEYS[4])
if prev then return {0, prev} end
redis.call('HSETNX', KEYS[2], 'epoch', ARGV[4])
local epoch = redis.call('HGET', KEYS[2], 'epoch')
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], seq .. '-0',
  't', ms, 'n', ARGV[5], 'v', ARGV[6], 'b', ARGV[7], 'd', ARGV[8])
local cutoff = ms - tonumber(ARGV[2])
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #oldest > 0 and tonumber(oldest[1][2][2]) < cutoff then
  local scan = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[12])
  local keep = nil
  for _, item in ipairs(scan) do
    if tonumber(item[2][2]) >= cutoff then keep = item[1] break end
  end
  if not keep then keep = (tonumber(string.match(scan[#scan][1], '^(%d+)')) + 1) .. '-0' end
  redis.call('XTRIM', KEYS[1], 'MINID', keep)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*',
  'c', ARGV[11], 's', seq, 'e', epoch, 'n', ARGV[5], 'v', ARGV[6], 'b', ARGV[7], 'd', ARGV[8])
redis.call('SET', KEYS[4], seq .. '\\n' .. epoch .. '\\n' .. ARGV[9], 'PX', ARGV[10])
return {1, seq, epoch}
"""

HEAD = """
-- KEYS: stream, meta; ARGV: new_epoch
redis.call('HSETNX', KEYS[2], 'epoch', ARGV[1])
local epoch = redis.call('HGET', KEYS[2], 'epoch')
local seq = redis.call('HGET', KEYS[2], 'seq') or '0'
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local first_id = ''
if #first > 0 then first_id = first[1][1] end
return {epoch, seq, first_id}
"""


def _seq_of(stream_id: str) -> int:
    return int(stream_id.split("-", 1)[0])


def _fields(raw: Any) -> dict[str, str]:
    return dict(zip(raw[::2], raw[1::2], strict=True)) if isinstance(raw, list) else dict(raw)


class RedisStream:
    """Company streams in Redis and the feed that delivers them on every instance."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        max_events: int,
        max_age: float,
        max_message_bytes: int,
        on_refused: Callable[[], None] | None = None,
    ) -> None:
        options: dict[str, Any] = {"socket_connect_timeout": 2, "decode_responses": True}
        self.redis = aioredis.Redis.from_url(url, socket_timeout=TIMEOUT, **options)
        self._reader = aioredis.Redis.from_url(
            url, socket_timeout=BLOCK_MS / 1000 + TIMEOUT, **options
        )
        self.prefix = prefix
        self.max_events = max_events
        self.max_age_ms = int(max_age * 1000)
        self.max_message_bytes = max_message_bytes
        self._on_refused = on_refused
        self._append = self.redis.register_script(APPEND)
        self._head = self.redis.register_script(HEAD)
        self._feed_task: asyncio.Task[None] | None = None
        #: Set while the feed reader is connected and reading (for readiness and tests).
        self.feed_live = asyncio.Event()

    def key(self, *parts: str) -> str:
        """A key under this cluster's prefix."""
        return ":".join((self.prefix, *parts))

    async def _call(self, work: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(work, TIMEOUT)
        except (RedisError, OSError, TimeoutError) as exc:
            raise StreamUnavailable(f"redis: {exc or type(exc).__name__}") from exc

    def validate(self, draft: Draft) -> None:
        """Refuse an event too large for the cluster (MessageTooLarge), for every instance."""
        size = len(json.dumps(draft.payload, separators=(",", ":")))
        if size > self.max_message_bytes:
            if self._on_refused is not None:
                self._on_refused()
            raise MessageTooLarge(size, self.max_message_bytes)

    async def append(self, draft: Draft) -> Appended:
        """Append atomically (see APPEND); a duplicate returns the first answer."""
        self.validate(draft)
        data = json.dumps(draft.payload, separators=(",", ":"))
        company = draft.company_id
        if draft.event_id is not None:
            dedupe, ttl = self.key("eid", company, draft.event_id), self.max_age_ms
        else:
            dedupe, ttl = self.key("nonce", draft.nonce), NONCE_TTL_MS
        stream, meta = self.key("stream", company), self.key("stream", company, "meta")
        answer = json.dumps(draft.answer, separators=(",", ":"))
        args: list[str | int] = [self.max_events, self.max_age_ms, FEED_MAXLEN, new_epoch()]
        args += [str(draft.namespace), draft.event, draft.branch_id or "", data, answer]
        args += [ttl, company, TRIM_SCAN]
        keys = [stream, meta, self.key("feed"), dedupe]
        result = await self._call(self._append(keys=keys, args=args))
        if int(result[0]) == 0:
            return Appended(None, _first_answer(str(result[1]), company))
        offset = StreamOffset(stream=company, epoch=str(result[2]), seq=int(result[1]))
        entry = Entry(company, draft.branch_id, draft.namespace, draft.event, draft.payload, offset)
        return Appended(entry)

    async def append_many(self, drafts: Sequence[Draft]) -> list[Appended | StreamUnavailable]:
        """Append in order, one script call each; once Redis fails, the rest fail alike
        (rather than each waiting out its own timeout)."""
        outcomes: list[Appended | StreamUnavailable] = []
        failed: StreamUnavailable | None = None
        for draft in drafts:
            if failed is None:
                try:
                    outcomes.append(await self.append(draft))
                    continue
                except StreamUnavailable as exc:
                    failed = exc
            outcomes.append(failed)
        return outcomes

    async def head(self, company_id: str) -> Head:
        """Epoch, last seq and oldest kept seq (a lost history gets a new epoch here)."""
        keys = [self.key("stream", company_id), self.key("stream", company_id, "meta")]
        epoch, seq, first = await self._call(self._head(keys=keys, args=[new_epoch()]))
        return Head(company_id, str(epoch), int(seq), _seq_of(first) if first else None)

    async def read(self, company_id: str, after: int, limit: int) -> list[Entry]:
        """Entries after seq ``after`` (XRANGE on the company's stream)."""
        meta = self.key("stream", company_id, "meta")
        stream = self.key("stream", company_id)
        epoch = await self._call(self.redis.hget(meta, "epoch"))
        rows = await self._call(self.redis.xrange(stream, f"({after}-0", "+", count=limit))
        if epoch is None:
            return []
        return [self._entry(company_id, str(epoch), _seq_of(i), _fields(f)) for i, f in rows]

    @staticmethod
    def _entry(company: str, epoch: str, seq: int, fields: dict[str, str]) -> Entry:
        offset = StreamOffset(stream=company, epoch=epoch, seq=seq)
        namespace, branch = Namespace(fields["n"]), fields.get("b") or None
        return Entry(company, branch, namespace, fields["v"], json.loads(fields["d"]), offset)

    async def ready(self, timeout: float) -> bool:
        """Whether the feed is being read (waits up to ``timeout``): a handover reads the head
        only then, so every entry after that head reaches this instance through the feed."""
        try:
            await asyncio.wait_for(self.feed_live.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def start(self, sink: Sink) -> None:
        """Read the feed from its current end and deliver every entry to ``sink``."""
        self._feed_task = asyncio.create_task(self._read_feed(sink))

    async def stop_feed(self) -> None:
        """Stop reading the feed (``start`` reads it again, from its end then)."""
        if self._feed_task is not None:
            self._feed_task.cancel()
            await asyncio.gather(self._feed_task, return_exceptions=True)
            self._feed_task = None
        self.feed_live.clear()

    async def stop(self) -> None:
        """Stop reading and close both connection pools."""
        await self.stop_feed()
        for client in (self.redis, self._reader):
            try:
                await asyncio.wait_for(client.aclose(), TIMEOUT)
            except (RedisError, OSError, TimeoutError) as exc:
                log.debug("closing a stream connection failed", extra={"error": str(exc)})

    async def _feed_end(self) -> str:
        last = await self._reader.xrevrange(self.key("feed"), "+", "-", count=1)
        return str(last[0][0]) if last else "0-0"

    async def _read_feed(self, sink: Sink) -> None:
        """XREAD the feed forever from where this instance started; back off while Redis is away."""
        position: str | None = None
        delay = 0.25
        while True:
            try:
                if position is None:
                    position = await self._feed_end()
                self.feed_live.set()
                reply: Any = await self._reader.xread(
                    {self.key("feed"): position}, count=500, block=BLOCK_MS
                )
                delay = 0.25
                for _, items in reply or []:
                    for item_id, fields in items:
                        position = str(item_id)
                        await self._deliver(sink, _fields(fields))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as exc:
                self.feed_live.clear()
                log.warning("stream feed lost; reading again", extra={"error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)

    async def _deliver(self, sink: Sink, fields: dict[str, str]) -> None:
        try:
            entry = self._entry(fields["c"], fields["e"], int(fields["s"]), fields)
        except (KeyError, ValueError) as exc:
            log.error("unreadable stream feed entry skipped", extra={"error": str(exc)})
            return
        await sink(entry)

    async def trim(self) -> None:
        """Nothing to do: each append trims its stream, and idle streams expire."""


def _first_answer(stored: str, company: str) -> dict[str, Any]:
    """The answer kept with a dedupe key: ``seq\\nepoch\\nanswer-json``."""
    seq, epoch, answer = stored.split("\n", 2)
    first: dict[str, Any] = json.loads(answer) if answer else {}
    first["offset"] = StreamOffset(stream=company, epoch=epoch, seq=int(seq)).to_wire()
    return first
