"""The Windows installer's script compiles with Debian's makensis (warnings are errors), over
a stand-in of the frozen folder; it installs, starts and removes the service through
chit-agent-service.exe and writes the preseed where agent.winservice looks. Installing it
runs in .github/workflows/agent-windows.yml."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agent import winservice
from agent.control import WINDOWS_GROUP

NSI = Path(__file__).resolve().parents[2] / "installers" / "windows" / "chit-agent.nsi"
EXECUTABLES = ("chit-agent.exe", "chit-agent-tray.exe", "chit-agent-service.exe")


def makensis(tmp_path: Path, *defines: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("makensis")
    if binary is None:
        pytest.skip("no makensis (scripts/setup-system.sh installs nsis)")
    return subprocess.run(
        [binary, "-WX", "-V2", *defines, str(NSI)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_the_installer_script_compiles(tmp_path: Path) -> None:
    source = tmp_path / "chit-agent"
    (source / "_internal").mkdir(parents=True)
    for name in EXECUTABLES:
        (source / name).write_bytes(b"MZ stand-in")
    (source / "_internal" / "chit-agent-version.txt").write_text("0.1.0\n")
    out = tmp_path / "chit-agent-setup.exe"
    done = makensis(tmp_path, "-DVERSION=0.1.0", f"-DSOURCE={source}", f"-DOUTFILE={out}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert out.read_bytes()[:2] == b"MZ" and out.stat().st_size > 50_000


def test_the_script_refuses_to_build_without_a_version(tmp_path: Path) -> None:
    done = makensis(tmp_path, f"-DSOURCE={tmp_path}")
    assert done.returncode != 0 and "VERSION" in done.stdout + done.stderr


def test_silent_install_arguments_reach_the_preseed_the_service_reads() -> None:
    script = NSI.read_text()
    assert '${GetOptions} $R0 "/HUB=" $Hub' in script
    assert '${GetOptions} $R0 "/ENROLL=" $EnrollCode' in script
    preseed = winservice.enroll_preseed(Path("PD"))
    assert preseed.relative_to("PD").as_posix() == "Chit/enroll.toml"
    assert '"$APPDATA\\Chit\\enroll.toml"' in script and "SetShellVarContext all" in script
    for command in ("install", "start", "remove"):
        assert f'"$INSTDIR\\chit-agent-service.exe" {command}' in script
    assert re.search(r'WriteRegStr HKLM "\$\{RUN_KEY\}" .*chit-agent-tray\.exe', script)
    assert winservice.ACCOUNT.replace("\\", "\\") in script


def test_the_control_group_is_made_on_install_and_removed_on_uninstall() -> None:
    """The group the service's pipe admits (agent.control.winpipe); INTERACTIVE by SID, and
    only into a group this install created (an upgrade keeps IT's choice)."""
    script = NSI.read_text()
    assert f'!define GROUP "{WINDOWS_GROUP}"' in script
    install = script.index("Function CreateControlGroup")
    created = script.index('net localgroup "${GROUP}" /add /comment:', install)
    assert script.index("${If} $0 != 0", created) < script.index("Add-LocalGroupMember", created)
    assert "-Member ${INTERACTIVE_SID}" in script and '"S-1-5-4"' in script
    assert script.index("Call CreateControlGroup") < script.index(
        '"$INSTDIR\\chit-agent-service.exe" install'
    )
    uninstall = script.index('Section "Uninstall"')
    assert script.index('net localgroup "${GROUP}" /delete') > uninstall
