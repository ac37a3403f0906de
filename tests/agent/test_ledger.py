"""The result ledger: one run per key, concurrent callers share it."""

from __future__ import annotations

import asyncio

import pytest

from agent.ledger import ResultLedger


async def test_same_key_runs_once_even_concurrently() -> None:
    ledger: ResultLedger[int] = ResultLedger()
    runs = 0

    async def work() -> int:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)
        return runs

    results = await asyncio.gather(*(ledger.once("k", work) for _ in range(5)))
    assert results == [1] * 5
    assert await ledger.once("k", work) == 1
    assert runs == 1


async def test_failure_is_not_remembered() -> None:
    ledger: ResultLedger[int] = ResultLedger()

    async def boom() -> int:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        await ledger.once("k", boom)

    async def fine() -> int:
        return 7

    assert await ledger.once("k", fine) == 7


async def test_bounded() -> None:
    ledger: ResultLedger[int] = ResultLedger(size=2)
    for key in "abc":

        async def work(k: str = key) -> int:
            return ord(k)

        await ledger.once(key, work)
    assert ledger.get("a") is None
    assert ledger.get("c") == ord("c")
