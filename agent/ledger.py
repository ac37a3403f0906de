"""Results by correlation id: a repeated id never runs twice, it gets the first outcome back."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ResultLedger(Generic[T]):
    """Bounded memory of finished results plus the ones still running."""

    def __init__(self, size: int = 2000) -> None:
        self._size = size
        self._done: OrderedDict[str, T] = OrderedDict()
        self._running: dict[str, asyncio.Future[T]] = {}

    def get(self, key: str) -> T | None:
        """The finished result of ``key``, if any."""
        return self._done.get(key)

    async def once(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` for a new key; for a known key return (or await) its first result."""
        if key in self._done:
            return self._done[key]
        if key in self._running:
            return await asyncio.shield(self._running[key])
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            result = await work()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._running.pop(key, None)
        self._remember(key, result)
        future.set_result(result)
        return result

    def _remember(self, key: str, result: T) -> None:
        self._done[key] = result
        while len(self._done) > self._size:
            self._done.popitem(last=False)
