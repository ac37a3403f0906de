"""Helpers for the printer-layer tests: free ports, time bounds, loopback-only addresses."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator


def free_port() -> int:
    """A TCP port free on every local address (so 127.0.0.x:port is free for any x)."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail when the block takes longer than ``seconds``: nothing may hang."""
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"took {elapsed:.2f} s, bound {seconds} s"
