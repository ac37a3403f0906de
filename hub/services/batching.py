"""Coalesce concurrent point lookups into one query (the "data loader" pattern).

In a reconnect storm thousands of agents each ask the store the same kind of question within
milliseconds: "is this agent revoked?" at connect, "has it jobs waiting?" after its inventory.
As one session each they queue for the pool (``QueuePool limit ... reached``) and time out.
A :class:`KeyedBatcher` gathers the keys asked for during one turn of the event loop (or until
``max_keys``) and answers them all with ONE call of ``fetch`` (one session, one ``IN (...)``
query), so the answers are as fresh as a query per caller but the store sees one query per
batch. A failing fetch fails every caller of that batch alike (each retries on its own).

An :class:`OrderedBatcher` is the sibling for writes (group commit): items submitted during
one loop turn, and while the previous group is being written, are written together by ONE
call of ``write`` (one transaction), in submission order, one group at a time; each submitter
is answered when its group's ``write`` returns.

Small and ours: the pattern is a dozen lines around asyncio futures; the libraries that offer
it (aiodataloader) are unmaintained or tied to GraphQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")
R = TypeVar("R")

#: Keys answered by one fetch at most (bounds the size of one ``IN (...)`` list).
MAX_KEYS = 500


class KeyedBatcher(Generic[K, V]):
    """``await get(key)``: answered with others asked in the same loop turn, in one fetch."""

    def __init__(
        self,
        fetch: Callable[[list[K]], Awaitable[dict[K, V]]],
        default: V,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self._fetch = fetch
        self._default = default
        self._max_keys = max_keys
        self._pending: dict[K, list[asyncio.Future[V]]] = {}
        self._scheduled = False
        self.fetches = 0

    async def get(self, key: K) -> V:
        """The value for ``key`` (``default`` when ``fetch`` does not name it)."""
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(key, []).append(future)
        if len(self._pending) >= self._max_keys:
            self._start()
        elif not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)
        return await future

    def _start(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        task.add_done_callback(_retrieve)

    async def _answer(self, batch: dict[K, list[asyncio.Future[V]]]) -> None:
        self.fetches += 1
        try:
            values = await self._fetch(list(batch))
        except BaseException as exc:
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(_fresh(exc))
            if not isinstance(exc, Exception):
                raise
            return
        for key, futures in batch.items():
            value = values.get(key, self._default)
            for future in futures:
                if not future.done():
                    future.set_result(value)


class OrderedBatcher(Generic[T, R]):
    """Items written in groups by one ``write`` call each, in order, one group at a time.

    ``write(items)`` returns one result per item, in order; when it raises, every item of
    that group gets the error (nothing of it is answered as written) and the next group is
    written all the same. Items a cancelled (or closed) writer could not write get
    ``interrupted()``.
    """

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[list[R]]],
        max_items: int,
        interrupted: Callable[[], Exception] = lambda: RuntimeError("the write was interrupted"),
    ) -> None:
        self._write = write
        self._max_items = max_items
        self._interrupted = interrupted
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.writes = 0

    def submit(self, items: Sequence[T]) -> list[asyncio.Future[R]]:
        """Queue ``items`` (in order) for the next group; a future per item for its result."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = []
        for item in items:
            future: asyncio.Future[R] = loop.create_future()
            self._queue.append((item, future))
            futures.append(future)
        if self._writer is None and self._queue:
            # A task starts on the next turn: whatever else is submitted this turn joins.
            self._writer = loop.create_task(self._drain())
            self._writer.add_done_callback(_retrieve)
        return futures

    async def put(self, item: T) -> R:
        """Submit one item and wait for its result."""
        return await self.submit([item])[0]

    async def _drain(self) -> None:
        try:
            while self._queue:
                group = self._queue[: self._max_items]
                del self._queue[: self._max_items]
                await self._one(group)
        finally:
            self._writer = None

    async def _one(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.writes += 1
        try:
            results = await self._write([item for item, _ in group])
        except Exception as exc:
            failure = exc  # every submitter of the group gets this very error
            _fail(group, lambda: failure)
            return
        except BaseException:
            _fail(group, self._interrupted)
            raise
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():  # a submitter cancelled meanwhile is not answered
                future.set_result(result)

    async def close(self, timeout: float) -> None:
        """Let queued groups be written for up to ``timeout`` s; fail what is left after."""
        writer = self._writer
        if writer is not None:
            await asyncio.wait({writer}, timeout=timeout)
            if not writer.done():
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
        queued, self._queue = self._queue, []
        _fail(queued, self._interrupted)


def _fail(
    group: Sequence[tuple[object, asyncio.Future[R]]], error: Callable[[], BaseException]
) -> None:
    """Answer every future of ``group`` not answered yet with ``error()``."""
    for _, future in group:
        if not future.done():
            future.set_exception(error())
            future.exception()  # retrieved: a submitter that went away logs nothing


def _fresh(exc: BaseException) -> BaseException:
    """Cancellation of the batch's task reaches its callers as a plain error, not their own."""
    if isinstance(exc, asyncio.CancelledError):
        return RuntimeError("the batched lookup was cancelled")
    return exc


def _retrieve(task: asyncio.Task[None]) -> None:
    """Errors were handed to the callers; never leave them as unretrieved task exceptions."""
    if not task.cancelled():
        task.exception()
