"""Not collected by the suite (no test_ prefix): run by test_redis_fixture in a fresh session."""

from __future__ import annotations


def test_probe(redis_url: str) -> None:
    """Print the Redis the session's fixture chose."""
    print(f"\nREDIS-URL {redis_url}")
