"""hub.services.batching: lookups coalesced per loop turn, writes grouped in order."""

from __future__ import annotations

import asyncio

import pytest

from hub.services.batching import KeyedBatcher, OrderedBatcher


async def test_keys_asked_in_one_turn_are_fetched_once() -> None:
    asked: list[list[int]] = []

    async def fetch(keys: list[int]) -> dict[int, str]:
        asked.append(keys)
        return {k: str(k) for k in keys if k != 3}

    batcher: KeyedBatcher[int, str] = KeyedBatcher(fetch, "none")
    got = await asyncio.gather(*(batcher.get(k) for k in (1, 2, 2, 3)))
    assert got == ["1", "2", "2", "none"]
    assert asked == [[1, 2, 3]]


async def test_writes_are_grouped_in_submission_order_one_group_at_a_time() -> None:
    groups: list[list[str]] = []
    writing = 0

    async def write(items: list[str]) -> list[str]:
        nonlocal writing
        writing += 1
        assert writing == 1  # never two groups at once
        groups.append(items)
        await asyncio.sleep(0.01)
        writing -= 1
        return [item.upper() for item in items]

    batcher: OrderedBatcher[str, str] = OrderedBatcher(write, max_items=3)
    first = batcher.submit(["a", "b"])
    one = asyncio.ensure_future(batcher.put("c"))
    rest = batcher.submit(["d", "e"])
    assert [await f for f in first] == ["A", "B"]
    assert await one == "C"
    assert [await f for f in rest] == ["D", "E"]
    assert groups == [["a", "b", "d"], ["e", "c"]]  # "c" was submitted when its task ran
    assert batcher.writes == 2


async def test_a_failed_write_fails_its_group_only() -> None:
    calls = 0

    async def write(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk gone")
        return items

    batcher: OrderedBatcher[int, int] = OrderedBatcher(write, max_items=2)
    futures = batcher.submit([1, 2, 3])
    with pytest.raises(OSError, match="disk gone"):
        await futures[0]
    with pytest.raises(OSError, match="disk gone"):
        await futures[1]
    assert await futures[2] == 3  # the next group is written all the same


async def test_close_fails_what_could_not_be_written() -> None:
    release = asyncio.Event()

    async def write(items: list[int]) -> list[int]:
        await release.wait()
        return items

    batcher: OrderedBatcher[int, int] = OrderedBatcher(
        write, max_items=1, interrupted=lambda: ConnectionError("closed")
    )
    futures = batcher.submit([1, 2])
    await asyncio.sleep(0)
    await batcher.close(0.05)
    for future in futures:
        with pytest.raises(ConnectionError, match="closed"):
            await future
