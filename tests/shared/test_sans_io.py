"""shared/ stays sans-IO: no module in it imports I/O, event-loop, Qt or USB libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
BANNED = {
    "asyncio",
    "socket",
    "socketio",
    "engineio",
    "aiohttp",
    "PySide6",
    "PyQt5",
    "PyQt6",
    "usb",
    "escpos",
    "serial",
    "sqlalchemy",
    "redis",
    "requests",
    "httpx",
    "subprocess",
    "threading",
    "selectors",
    "ssl",
    "zeroconf",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted(SHARED.rglob("*.py")), ids=lambda p: p.name)
def test_module_imports_no_io(path: Path) -> None:
    assert _imports(path) & BANNED == set()


def test_the_check_sees_banned_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nfrom usb import core\n")
    assert _imports(bad) & BANNED == {"asyncio", "usb"}
