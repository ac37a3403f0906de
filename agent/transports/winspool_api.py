"""The one seam to the Windows print spooler: pywin32's ``win32print`` on Windows, a fake elsewhere.

Nothing else in the agent imports pywin32. :func:`spooler_api` returns the real API only on
Windows (pywin32 is installed there only, by an environment marker), or the API a test or a
demo installed with :func:`use_spooler` (``agent.simulators.fake_win32print.install()``).

pywin32 has no ``ReadPrinter``; on Windows it is called through ctypes on ``winspool.drv``
with the raw handle of the pywin32 printer handle. The fake module ships its own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: ``ReadPrinter(handle, size) -> bytes``: raises the API's error when the path is one-way.
ReadPrinter = Callable[[Any, int], bytes]


@dataclass(frozen=True)
class SpoolerApi:
    """``win32print`` (functions and constants), its error type, and ReadPrinter."""

    win32print: Any
    error: type[Exception]
    read_printer: ReadPrinter


_installed: SpoolerApi | None = None


def use_spooler(api: SpoolerApi | None) -> None:
    """Install ``api`` as the spooler (tests, demos); None restores the platform's."""
    global _installed
    _installed = api


def spooler_api(platform: str = sys.platform) -> SpoolerApi | None:
    """The installed spooler, else pywin32 on Windows, else None (no Windows spooler here)."""
    if _installed is not None:
        return _installed
    if platform != "win32":
        return None
    return _pywin32()


def _pywin32() -> SpoolerApi | None:  # pragma: no cover - runs on Windows only
    """pywin32's win32print with a ctypes ReadPrinter, or None when pywin32 is missing."""
    try:
        import pywintypes  # type: ignore[import-not-found,unused-ignore]
        import win32print  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return SpoolerApi(win32print, pywintypes.error, _ctypes_read_printer(pywintypes.error))


def _ctypes_read_printer(error: type[Exception]) -> ReadPrinter:  # pragma: no cover - Windows
    """ReadPrinter from winspool.drv, raising ``error`` like pywin32 does."""
    import ctypes
    from ctypes import wintypes

    dll = getattr(ctypes, "WinDLL")("winspool.drv", use_last_error=True)  # noqa: B009
    call = dll.ReadPrinter
    call.argtypes = [wintypes.HANDLE, wintypes.LPVOID, wintypes.DWORD, wintypes.LPDWORD]
    call.restype = wintypes.BOOL

    def read_printer(handle: Any, size: int) -> bytes:
        buffer = ctypes.create_string_buffer(size)
        done = wintypes.DWORD(0)
        if not call(int(handle), buffer, size, ctypes.byref(done)):
            code = getattr(ctypes, "get_last_error")()  # noqa: B009
            raise error(code, "ReadPrinter", getattr(ctypes, "FormatError")(code).strip())  # noqa: B009
        return buffer.raw[: done.value]

    return read_printer
