"""Open a folder in the desktop's file manager, and say so when that did not work.

On Linux the tray runs ``xdg-open`` itself so that a missing tool or a non-zero exit (no file
manager, no handler for folders) is noticed: Qt's ``QDesktopServices.openUrl`` reports only
whether ``xdg-open`` started. On Windows and macOS ``openUrl`` answers for the shell itself.
The caller shows the path instead of failing silently.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QUrl
from PySide6.QtGui import QDesktopServices

Failed = Callable[[str], object]


class FolderOpener(QObject):
    """Opens folders; calls ``failed(reason)`` (on the UI thread) when it could not."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: set[QProcess] = set()

    def open(self, folder: Path, failed: Failed) -> None:
        """Show ``folder`` in the file manager, or call ``failed`` with why not."""
        if sys.platform.startswith("linux"):
            self._xdg_open(folder, failed)
        elif not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            failed("the desktop did not open the folder")

    def _xdg_open(self, folder: Path, failed: Failed) -> None:
        program = shutil.which("xdg-open")
        if program is None:
            failed("xdg-open is not installed")
            return
        process = QProcess(self)
        self._running.add(process)

        def finished(code: int, _status: QProcess.ExitStatus) -> None:
            self._running.discard(process)
            process.deleteLater()
            if code != 0:
                failed(f"xdg-open could not open it (exit code {code})")

        def error(problem: QProcess.ProcessError) -> None:
            if problem is QProcess.ProcessError.FailedToStart:
                self._running.discard(process)
                failed("xdg-open did not start")

        process.finished.connect(finished)
        process.errorOccurred.connect(error)
        process.start(program, [str(folder)])
