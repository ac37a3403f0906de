"""hub.lean_queue: the asyncio.Queue semantics engineio relies on, without idle buffers."""

from __future__ import annotations

import asyncio

import pytest

from hub.lean_queue import LeanQueue


async def test_items_come_out_in_order_and_get_waits_for_one() -> None:
    queue = LeanQueue()
    queue.put_nowait(1)
    await queue.put(2)
    assert (queue.qsize(), queue.empty()) == (2, False)
    assert [queue.get_nowait(), await queue.get()] == [1, 2]
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.put_nowait(3)
    assert await waiting == 3
    assert queue.empty() and queue._items is None and queue._getters is None


async def test_waiting_getters_are_served_oldest_first() -> None:
    queue = LeanQueue()
    first, second = asyncio.ensure_future(queue.get()), asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert await asyncio.gather(first, second) == ["a", "b"]


async def test_a_cancelled_getter_takes_nothing_and_passes_its_wakeup_on() -> None:
    queue = LeanQueue()
    gone, stays = asyncio.ensure_future(queue.get()), asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("x")  # wakes ``gone``...
    gone.cancel()  # ...which is cancelled before it resumes: ``stays`` must get the item
    assert await stays == "x"
    assert gone.cancelled()
    assert queue._getters is None


async def test_join_waits_until_every_item_is_done() -> None:
    queue = LeanQueue()
    await queue.join()  # nothing put: returns at once
    queue.put_nowait(1)
    queue.put_nowait(2)
    joined = asyncio.ensure_future(queue.join())
    queue.get_nowait()
    queue.task_done()
    await asyncio.sleep(0)
    assert not joined.done()
    queue.get_nowait()
    queue.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError, match="too many times"):
        queue.task_done()
