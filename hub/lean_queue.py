"""An unbounded asyncio queue that costs next to nothing while it is empty and idle.

engineio gives every session an ``asyncio.Queue``: three empty deques and an ``Event`` with a
fourth, about 3 KB per connection (an empty deque preallocates a 64-slot block), all of it idle
for a websocket session once hub.fanout writes its frames directly. :class:`LeanQueue` offers
the same interface engineio uses (``put``, ``put_nowait``, ``get``, ``get_nowait``,
``task_done``, ``join``, ``empty``, ``qsize``) with the same semantics for an unbounded queue,
but creates its item deque and its waiter lists only while they hold something.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any


class LeanQueue:
    """FIFO of any items; ``get`` waits while it is empty; ``join`` until all are done."""

    __slots__ = ("_getters", "_items", "_joiners", "_unfinished")

    def __init__(self) -> None:
        self._items: collections.deque[Any] | None = None
        self._getters: list[asyncio.Future[None]] | None = None
        self._joiners: list[asyncio.Future[None]] | None = None
        self._unfinished = 0

    def qsize(self) -> int:
        """How many items are waiting."""
        return len(self._items) if self._items is not None else 0

    def empty(self) -> bool:
        """Whether no item is waiting."""
        return not self._items

    def put_nowait(self, item: Any) -> None:
        """Add ``item`` at the end and wake the oldest waiting ``get``."""
        if self._items is None:
            self._items = collections.deque()
        self._items.append(item)
        self._unfinished += 1
        self._wake_getter()

    async def put(self, item: Any) -> None:
        """:meth:`put_nowait` (the queue is unbounded, so it never waits)."""
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        """The first item; asyncio.QueueEmpty when there is none."""
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        item = items.popleft()
        if not items:
            self._items = None  # an idle queue keeps no block
        return item

    async def get(self) -> Any:
        """The first item, waiting for one when the queue is empty."""
        while not self._items:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(waiter)
            try:
                await waiter
            except BaseException:
                self._drop(waiter)
                if self._items and not waiter.cancelled():
                    self._wake_getter()  # it was woken but will not take: the next one may
                raise
        return self.get_nowait()

    def task_done(self) -> None:
        """One item taken earlier is processed; wakes ``join`` when none is left."""
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._joiners is not None:
            joiners, self._joiners = self._joiners, None
            for joiner in joiners:
                if not joiner.done():
                    joiner.set_result(None)

    async def join(self) -> None:
        """Wait until every item put was taken and marked done."""
        if self._unfinished == 0:
            return
        joiner: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._joiners is None:
            self._joiners = []
        self._joiners.append(joiner)
        await joiner

    def _wake_getter(self) -> None:
        getters = self._getters
        while getters:
            waiter = getters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break
        if not getters:
            self._getters = None

    def _drop(self, waiter: asyncio.Future[None]) -> None:
        getters = self._getters
        if getters is not None and waiter in getters:
            getters.remove(waiter)
            if not getters:
                self._getters = None
