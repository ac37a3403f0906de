"""Carry calls from the core thread to the UI thread (Qt queued signals)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal


class Bridge(QObject):
    """Lives on the UI thread; its signals may be emitted from any thread."""

    snapshot = Signal(object)
    _call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def on_ui(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the UI thread soon (safe to call from the core thread)."""
        self._call.emit(fn)

    def _run(self, fn: Callable[[], None]) -> None:
        fn()
