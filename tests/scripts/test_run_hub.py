"""``scripts/run-hub.sh`` installs only when pyproject.toml changed, and quietly (issue 17, 6).

The script runs for real in a scratch project whose ``.venv/bin/python`` is a recording
wrapper around this interpreter: pip invocations are logged instead of run, everything else
(the stamp's hash) runs for real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  echo "pip $*" >> "$(dirname "$0")/../pip-calls"
  echo "a very long build backend warning that nobody should see" >&2
  exit 0
fi
exec {python} "$@"
"""
FAKE_HUB = '#!/bin/sh\necho "chit-hub $*"\n'


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for name in ("run-hub.sh", "venv.sh"):
        shutil.copy2(ROOT / "scripts" / name, project / "scripts" / name)
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    bin_dir = project / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (
        ("python", FAKE_PYTHON.format(python=sys.executable)),
        ("chit-hub", FAKE_HUB),
    ):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return project


def _run(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIT_")}
    return subprocess.run(
        ["bash", "scripts/run-hub.sh", "--demo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def _pip_calls(project: Path) -> list[str]:
    log = project / ".venv" / "pip-calls"
    return log.read_text().splitlines() if log.exists() else []


def test_installs_once_then_starts_without_pip_until_pyproject_changes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = _run(project)
    assert first.stdout == "chit-hub --demo\n"
    assert [c for c in _pip_calls(project) if "install" in c and "-e" in c] != []
    # The build backend's chatter went to the install log, not the terminal: one line only.
    assert "build backend warning" not in first.stderr
    assert len(first.stderr.splitlines()) == 1 and "Installing chit" in first.stderr

    calls = len(_pip_calls(project))
    again = _run(project)
    assert again.stdout == "chit-hub --demo\n" and again.stderr == ""
    assert len(_pip_calls(project)) == calls

    with (project / "pyproject.toml").open("a") as handle:
        handle.write("\n# a changed dependency\n")
    changed = _run(project)
    assert "Installing chit" in changed.stderr
    assert len(_pip_calls(project)) == calls + 1


def test_a_dev_install_counts_for_the_hub(tmp_path: Path) -> None:
    project = _project(tmp_path)
    subprocess.run(
        ["bash", "-c", ". scripts/venv.sh && chit_ensure_installed dev,tray"],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=60,
    )
    calls = len(_pip_calls(project))
    assert _run(project).stderr == ""
    assert len(_pip_calls(project)) == calls


def test_license_is_an_spdx_expression() -> None:
    """A TOML-table license makes setuptools >= 77 print a screenful of deprecation warnings."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)
    assert any(r.startswith("setuptools>=77") for r in project["build-system"]["requires"])
    extras = " ".join(
        d for deps in project["project"]["optional-dependencies"].values() for d in deps
    )
    assert "asyncio_client" not in extras  # python-socketio 5 warns it has no such extra
