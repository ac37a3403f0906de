"""Qt stays in agent/tray: nothing else imports PySide6, and the core never imports the tray."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "hub", "agent")
#: Plain-Python tray modules (they must import without Qt).
PURE_TRAY = ("snapshot.py", "incidents.py", "core.py", "remote.py", "__init__.py")


def imported(path: Path) -> set[str]:
    """Every module a file imports (at any depth, including lazy imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]


def test_only_agent_tray_imports_pyside6() -> None:
    tray = ROOT / "agent" / "tray"
    offenders = [
        str(p.relative_to(ROOT))
        for p in sources()
        if tray not in p.parents and any(n.split(".")[0] == "PySide6" for n in imported(p))
    ]
    assert offenders == []


def test_pure_tray_modules_do_not_import_qt() -> None:
    for name in PURE_TRAY:
        modules = imported(ROOT / "agent" / "tray" / name)
        assert not any(n.split(".")[0] == "PySide6" for n in modules), name


def test_the_core_never_imports_the_tray() -> None:
    tray = ROOT / "agent" / "tray"
    offenders = [
        str(p.relative_to(ROOT))
        for p in sources()
        if tray not in p.parents and any(n.startswith("agent.tray") for n in imported(p))
    ]
    assert offenders == []
