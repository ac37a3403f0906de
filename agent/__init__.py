"""The Chit printer agent: finds ESC/POS printers and drives them for the hub."""

import sys
from pathlib import Path

#: The version of this source tree (pyproject.toml's); a frozen build may carry its own.
SOURCE_VERSION = "0.1.0"
#: The file scripts/build-agent.sh stamps into a frozen build (PyInstaller's bundle folder).
VERSION_STAMP = "chit-agent-version.txt"


def _version() -> str:
    """The frozen build's stamped version (one for every executable in it), else the source's."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        stamp = Path(bundle) / VERSION_STAMP
        if stamp.is_file():
            return stamp.read_text(encoding="utf-8").strip() or SOURCE_VERSION
    return SOURCE_VERSION


__version__ = _version()
