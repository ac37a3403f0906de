"""Tray tests: Qt offscreen (set before Qt is imported), a hub on its own thread, sandboxed homes.

The tray's core runs its own asyncio loop on a thread, and qtbot spins Qt's loop on the test
thread, so the hub and the simulated printers get a third loop on a background thread
(:class:`SideLoop`) instead of the test's pytest-asyncio loop.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest


def _start_xvfb() -> bool:
    """Run the tray tests under a real X server (Xvfb) when one can be started, so the
    screenshots are taken under X; otherwise Qt runs offscreen."""
    binary = shutil.which("Xvfb")
    if os.environ.get("DISPLAY") or binary is None or os.environ.get("CHIT_TRAY_OFFSCREEN"):
        return False
    display = f":{90 + os.getpid() % 400}"
    proc = subprocess.Popen(
        [binary, display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    socket_path = Path(f"/tmp/.X11-unix/X{display[1:]}")
    while not socket_path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            return False
        time.sleep(0.05)
    atexit.register(proc.kill)
    os.environ["DISPLAY"] = display
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return True


if not _start_xvfb():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

T = TypeVar("T")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


class SideLoop:
    """An asyncio loop on a background thread; ``run`` executes a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the side loop and wait (bounded) for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Cancel what is left (socket pings and the like), stop the loop and its thread."""
        self.run(_cancel_others(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _cancel_others() -> None:
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


@pytest.fixture
def side_loop() -> Iterator[SideLoop]:
    """A background asyncio loop for the hub and the simulated printers."""
    loop = SideLoop()
    try:
        yield loop
    finally:
        loop.close()


@pytest.fixture(autouse=True)
def _sandboxed_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Autostart files and tokens go to the test's tmp dir, never the real home."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHIT_AGENT_TOKEN", raising=False)
    monkeypatch.delenv("CHIT_AGENT_HUB_URL", raising=False)


@pytest.fixture
def screenshots() -> Path:
    """Where the tests save images of the menu and dialogs."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
