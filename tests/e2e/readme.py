"""The README as a script: its marked commands, and what it says they print.

A fenced block right after ``<!-- newcomer: NAME -->`` is the command of step NAME (shell
text, run as written); one after ``<!-- newcomer: NAME output -->`` is what the README says
that step prints. In those outputs ``<password>``, ``<port>``, ``<ms>`` and ``<id>`` stand for
what differs from run to run, and a run of spaces is any run of spaces (column alignment).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
_BLOCK = re.compile(
    r"<!-- newcomer: (?P<name>[\w-]+)(?P<output> output)? -->\s*\n```[\w-]*\n(?P<body>.*?)\n```",
    re.DOTALL,
)
PLACEHOLDERS = {
    "<password>": r"[A-Za-z0-9_\-]{8,}",
    "<port>": r"\d{2,5}",
    "<ms>": r"\d+",
    "<id>": r"[\w\-:.]+",
}


@dataclass(frozen=True)
class Step:
    """One marked command of the README and the output it promises (if it says one)."""

    name: str
    command: str
    output: str | None = None


def steps(text: str | None = None) -> dict[str, Step]:
    """Every marked step of the README, by name."""
    commands: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for found in _BLOCK.finditer(README.read_text() if text is None else text):
        target = outputs if found["output"] else commands
        if found["name"] in target:
            raise ValueError(f"README: step {found['name']!r} is marked twice")
        target[found["name"]] = found["body"]
    orphans = set(outputs) - set(commands)
    if orphans:
        raise ValueError(f"README: outputs without a command: {sorted(orphans)}")
    return {name: Step(name, cmd, outputs.get(name)) for name, cmd in commands.items()}


def line_pattern(expected: str) -> re.Pattern[str]:
    """A regex for one promised line: placeholders vary, runs of spaces are any spaces."""
    parts = re.split(r"(<password>|<port>|<ms>|<id>| {2,})", expected.strip())
    regex = "".join(
        PLACEHOLDERS.get(part) or (r"\s+" if part.startswith("  ") else re.escape(part))
        for part in parts
        if part
    )
    return re.compile(regex)


def unmatched(expected: str, actual: Iterable[str]) -> list[str]:
    """The promised lines not found in ``actual``, in order (other lines may come between)."""
    lines = [line.strip() for line in actual]
    missing, at = [], 0
    for wanted in (line for line in expected.splitlines() if line.strip()):
        pattern = line_pattern(wanted)
        found = next((i for i in range(at, len(lines)) if pattern.fullmatch(lines[i])), None)
        if found is None:
            missing.append(wanted.strip())
        else:
            at = found + 1
    return missing
