"""The macOS package's parts, checked here: the launchd plists parse and are current, and the
postinstall and uninstall scripts do the right launchctl and dscl calls, run against a scratch
folder with fake launchctl, dscl, chown, stat, id, ps and pkgutil on the PATH. The .pkg itself
is built and installed in .github/workflows/agent-macos.yml."""

from __future__ import annotations

import os
import plistlib
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent import launchd

MACOS = Path(__file__).resolve().parents[2] / "installers" / "macos"

FAKES = {
    # A directory service with users root, daemon and one at 300, and group _lp (gid 26).
    "dscl": """
state="$FAKE_STATE/user-created"
case "$2 $3" in
  "-read /Users/_chitagent") [ -f "$state" ] ;;
  "-list /Users") printf 'root 0\\ndaemon 1\\n_other 300\\n' ;;
  "-read /Groups/_lp") echo "PrimaryGroupID: 26" ;;
  "-create /Users/_chitagent") touch "$state" ;;
  "-delete /Users/_chitagent") rm -f "$state" ;;
esac
""",
    "launchctl": "",
    "chown": "",
    "chgrp": "",
    "pkgutil": "",
    "stat": "echo alice",
    "id": '[ "${1:-}" = -u ] && [ -n "${2:-}" ] && echo 501 || echo 0',
    "ps": 'echo "  501 /System/Library/CoreServices/loginwindow.app/Contents/MacOS/loginwindow"',
}


@pytest.fixture
def fake_mac(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A scratch root holding the installed payload, and an environment with the fakes."""
    bin_dir, state, root = tmp_path / "bin", tmp_path / "state", tmp_path / "root"
    for folder in (bin_dir, state):
        folder.mkdir()
    for name, body in FAKES.items():
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >>"$FAKE_STATE/calls"\n{body}\n')
        script.chmod(0o755)
    for rel, content in (
        ("Library/LaunchDaemons/io.chit.agent.plist", launchd.files()["io.chit.agent.plist"]),
        ("Library/LaunchAgents/io.chit.agent.tray.plist", b"x"),
        ("Applications/Chit Agent.app/Contents/MacOS/chit-agent", b"x"),
        ("etc/chit-agent/enroll.toml", b'hub = "https://hub.example"\ncode = "ABCD-2345"\n'),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_STATE": str(state),
           "CHIT_PKG_ROOT": str(root)}  # fmt: skip
    return root, env


def run(script: Path, env: dict[str, str], *args: str) -> list[str]:
    calls = Path(env["FAKE_STATE"]) / "calls"
    calls.unlink(missing_ok=True)
    done = subprocess.run(
        ["sh", str(script), *args], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return calls.read_text().splitlines() if calls.exists() else []


def test_the_plists_parse_and_are_current() -> None:
    for name, content in launchd.files().items():
        shipped = (MACOS / name).read_bytes()
        assert shipped == content, f"run: python -m agent.launchd {MACOS}"
        assert isinstance(plistlib.loads(shipped), dict)


def test_the_daemon_runs_the_headless_core_as_its_user_and_is_kept_alive() -> None:
    daemon = plistlib.loads((MACOS / "io.chit.agent.plist").read_bytes())
    assert daemon["ProgramArguments"] == [launchd.EXECUTABLE, "run", "--headless"]
    assert daemon["UserName"] == "_chitagent" and daemon["GroupName"] == "_lp"
    assert daemon["KeepAlive"] is True and daemon["RunAtLoad"] is True
    assert daemon["EnvironmentVariables"]["CHIT_AGENT_CONFIG_DIR"].startswith("/Library/")
    tray = plistlib.loads((MACOS / "io.chit.agent.tray.plist").read_bytes())
    assert tray["ProgramArguments"] == [launchd.EXECUTABLE]
    assert tray["KeepAlive"] == {"SuccessfulExit": False}
    assert tray["LimitLoadToSessionType"] == ["Aqua"]


def test_the_distribution_is_xml_naming_the_component() -> None:
    tree = ET.parse(MACOS / "distribution.xml")
    [ref] = [r for r in tree.getroot().iter("pkg-ref") if r.text]
    assert ref.text == "chit-agent-component.pkg" and ref.get("version") == "@VERSION@"


def test_postinstall_creates_the_user_and_starts_daemon_and_tray(
    fake_mac: tuple[Path, dict[str, str]],
) -> None:
    root, env = fake_mac
    calls = run(MACOS / "scripts" / "postinstall", env, "pkg", "/", "/")
    assert "dscl . -create /Users/_chitagent UniqueID 301" in calls
    assert "dscl . -create /Users/_chitagent PrimaryGroupID 26" in calls
    daemon = f"{root}/Library/LaunchDaemons/io.chit.agent.plist"
    assert calls.index(f"launchctl bootstrap system {daemon}") > calls.index(
        "launchctl bootout system/io.chit.agent"
    )
    assert (
        f"launchctl bootstrap gui/501 {root}/Library/LaunchAgents/io.chit.agent.tray.plist" in calls
    )
    link = root / "usr/local/bin/chit-agent"
    assert os.readlink(link) == launchd.EXECUTABLE
    assert (root / "etc/chit-agent/enroll.toml").stat().st_mode & 0o777 == 0o640
    assert (root / "Library/Application Support/Chit/agent").is_dir()

    again = run(MACOS / "scripts" / "postinstall", env, "pkg", "/", "/")
    assert not any("-create" in call for call in again), "an upgrade made the user again"
    assert f"launchctl bootstrap system {daemon}" in again


def test_postinstall_on_another_volume_starts_nothing(
    fake_mac: tuple[Path, dict[str, str]],
) -> None:
    _, env = fake_mac
    assert run(MACOS / "scripts" / "postinstall", env, "pkg", "/", "/Volumes/Other") == []


def test_uninstall_keeps_settings_and_purge_removes_everything(
    fake_mac: tuple[Path, dict[str, str]],
) -> None:
    root, env = fake_mac
    run(MACOS / "scripts" / "postinstall", env, "pkg", "/", "/")
    calls = run(MACOS / "uninstall.sh", env)
    assert "launchctl bootout system/io.chit.agent" in calls
    assert "launchctl bootout gui/501/io.chit.agent.tray" in calls
    assert not (root / "Applications/Chit Agent.app").exists()
    assert not (root / "Library/LaunchDaemons/io.chit.agent.plist").exists()
    assert not (root / "usr/local/bin/chit-agent").is_symlink()
    assert (root / "Library/Application Support/Chit/agent").is_dir()
    calls = run(MACOS / "uninstall.sh", env, "--purge")
    assert "dscl . -delete /Users/_chitagent" in calls
    for gone in ("Library/Application Support/Chit", "Library/Logs/Chit", "etc/chit-agent"):
        assert not (root / gone).exists(), gone
