"""The admission gate: a few connects at a time, a bounded wait, then ``busy`` with a retry hint."""

from __future__ import annotations

import asyncio

import pytest

from hub.auth import AuthRefused
from hub.services.admission import MAX_RETRY_AFTER, MIN_RETRY_AFTER, AdmissionGate


async def _hold(gate: AdmissionGate, release: asyncio.Event) -> None:
    async with gate.admitting():
        await release.wait()


async def test_connects_beyond_the_limit_wait_for_a_place_instead_of_being_refused() -> None:
    gate = AdmissionGate(limit=2, queue_limit=10, max_wait=5.0)
    release = asyncio.Event()
    holders = [asyncio.create_task(_hold(gate, release)) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert (gate.in_flight, gate.waiting) == (2, 3)
    release.set()
    await asyncio.gather(*holders)
    assert (gate.in_flight, gate.waiting, gate.deferred) == (0, 0, 0)


async def test_a_full_queue_defers_at_once_with_a_bounded_retry_after() -> None:
    gate = AdmissionGate(limit=1, queue_limit=2, max_wait=5.0)
    release = asyncio.Event()
    holders = [asyncio.create_task(_hold(gate, release)) for _ in range(3)]
    await asyncio.sleep(0.01)
    with pytest.raises(AuthRefused) as refused:
        async with gate.admitting():
            pytest.fail("admitted past a full queue")
    assert refused.value.code == "busy"
    assert refused.value.retry_after is not None
    assert MIN_RETRY_AFTER * 0.5 <= refused.value.retry_after <= MAX_RETRY_AFTER
    assert gate.deferred == 1
    release.set()
    await asyncio.gather(*holders)


async def test_a_connect_that_waits_too_long_is_deferred_and_leaves_the_queue() -> None:
    gate = AdmissionGate(limit=1, queue_limit=5, max_wait=0.05)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, release))
    await asyncio.sleep(0.01)
    with pytest.raises(AuthRefused):
        async with gate.admitting():
            pytest.fail("admitted while the only place was held")
    assert gate.waiting == 0
    release.set()
    await holder
    async with gate.admitting():  # the place came back
        assert gate.in_flight == 1


async def test_retry_after_grows_with_the_backlog_at_the_admission_rate() -> None:
    gate = AdmissionGate(limit=1, queue_limit=1000, max_wait=5.0)
    for _ in range(50):  # a measured rate of admissions
        async with gate.admitting():
            pass
    small = gate.retry_after()
    gate.waiting = 900  # a long queue ahead at the same rate
    large = gate.retry_after()
    assert large > small
    assert large <= MAX_RETRY_AFTER
