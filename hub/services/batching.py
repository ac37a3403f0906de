"""Coalesce concurrent point lookups into one query (the "data loader" pattern).

In a reconnect storm thousands of agents each ask the store the same kind of question within
milliseconds: "is this agent revoked?" at connect, "has it jobs waiting?" after its inventory.
As one session each they queue for the pool (``QueuePool limit ... reached``) and time out.
A :class:`KeyedBatcher` gathers the keys asked for during one turn of the event loop (or until
``max_keys``) and answers them all with ONE call of ``fetch`` (one session, one ``IN (...)``
query), so the answers are as fresh as a query per caller but the store sees one query per
batch. A failing fetch fails every caller of that batch alike (each retries on its own).

Small and ours: the pattern is a dozen lines around asyncio futures; the libraries that offer
it (aiodataloader) are unmaintained or tied to GraphQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

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


def _fresh(exc: BaseException) -> BaseException:
    """Cancellation of the batch's task reaches its callers as a plain error, not their own."""
    if isinstance(exc, asyncio.CancelledError):
        return RuntimeError("the batched lookup was cancelled")
    return exc


def _retrieve(task: asyncio.Task[None]) -> None:
    """Errors were handed to the callers; never leave them as unretrieved task exceptions."""
    if not task.cancelled():
        task.exception()
