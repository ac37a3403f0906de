"""The failure limiter behind sign-in and pairing-code redemption."""

from __future__ import annotations

from hub.services import ratelimit
from hub.services.ratelimit import FailureLimiter


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_blocks_after_the_limit_until_the_window_passes() -> None:
    clock = Clock()
    limiter = FailureLimiter(2, 60.0, clock)
    limiter.fail("k")
    assert limiter.retry_after("k") is None
    clock.now += 10
    limiter.fail("k")
    assert limiter.retry_after("k") == 50.0
    assert limiter.retry_after("other") is None
    clock.now += 50
    assert limiter.retry_after("k") is None


def test_reset_forgets_failures() -> None:
    limiter = FailureLimiter(1, 60.0, Clock())
    limiter.fail("k")
    assert limiter.retry_after("k") is not None
    limiter.reset("k")
    assert limiter.retry_after("k") is None


def test_memory_stays_bounded() -> None:
    limiter = FailureLimiter(1, 60.0, Clock())
    for n in range(ratelimit.MAX_KEYS + 5):
        limiter.fail(f"k{n}")
    assert len(limiter._failures) == ratelimit.MAX_KEYS
    assert limiter.retry_after("k0") is None
