"""deploy/systemd/chit-hub.service: systemd accepts it, it is hardened, and it runs our CLI.

systemd-analyze verifies the file offline (no running systemd needed); the unit's command is
the one path that differs per installation, so it is pointed at this environment's chit-hub
(verify checks that it exists and is executable).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub import cli

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "chit-hub.service"
INSTALLED = "/opt/chit/bin/chit-hub"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (the systemd package)"
)


def _here(tmp_path: Path) -> Path:
    """The unit with its command pointed at this environment's chit-hub."""
    binary = Path(sys.executable).parent / "chit-hub"
    assert binary.exists(), "chit-hub is not installed in this environment (pip install -e .)"
    text = UNIT.read_text()
    assert text.count(INSTALLED) == 1
    unit = tmp_path / "chit-hub.service"
    unit.write_text(text.replace(INSTALLED, str(binary)))
    return unit


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False)


def _directives(section: str) -> dict[str, list[str]]:
    """Key -> values of one section of the unit (keys may repeat)."""
    found: dict[str, list[str]] = {}
    current = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif line and not line.startswith("#") and current == section:
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@needs_analyze
def test_systemd_analyze_verifies_the_unit_without_a_warning(tmp_path: Path) -> None:
    done = _analyze("verify", "--man=no", str(_here(tmp_path)))
    # verify exits 0 on unknown keys and unparsable values, and only warns: none may appear.
    assert (done.returncode, done.stderr.strip(), done.stdout.strip()) == (0, "", "")


@needs_analyze
def test_the_unit_is_hardened(tmp_path: Path) -> None:
    # The threshold is on a 0-100 scale, printed divided by ten: at most 2.0 ("OK").
    done = _analyze("security", "--offline=yes", "--threshold=20", str(_here(tmp_path)))
    assert done.returncode == 0, done.stdout[-2000:]
    assert "Overall exposure level" in done.stdout


def test_the_unit_restarts_and_runs_workers_as_its_own_user() -> None:
    service = _directives("Service")
    assert service["Restart"] == ["always"]
    assert service["User"] == ["chit-hub"] and service["Group"] == ["chit-hub"]
    assert service["StateDirectory"] == ["chit-hub"]
    env = dict(v.split("=", 1) for v in service["Environment"])
    assert env["CHIT_HUB_DATA_DIR"] == "/var/lib/chit-hub"  # the StateDirectory
    sysusers = (UNIT.parent / "chit-hub.sysusers.conf").read_text()
    assert "u chit-hub - " in sysusers


def test_the_units_command_line_is_one_chit_hub_accepts() -> None:
    [command] = _directives("Service")["ExecStart"]
    env = dict(v.split("=", 1) for v in _directives("Service")["Environment"])
    argv = shlex.split(command.replace("${CHIT_WORKERS}", env["CHIT_WORKERS"]))
    assert argv[0] == INSTALLED
    args = cli._parser().parse_args(argv[1:])
    assert (args.command, args.workers) == ("serve", int(env["CHIT_WORKERS"]))
