"""Start at login: file contents per OS (pure) and the Linux path, in tmp dirs only."""

from __future__ import annotations

import plistlib
from pathlib import Path

from agent import autostart

COMMAND = ["/opt/chit venv/bin/chit-agent"]


def test_desktop_entry_quotes_the_command() -> None:
    entry = autostart.desktop_entry(COMMAND)
    assert entry.startswith("[Desktop Entry]\n")
    assert 'Exec="/opt/chit venv/bin/chit-agent"\n' in entry
    assert "Type=Application" in entry and "X-GNOME-Autostart-enabled=true" in entry
    assert "Exec=/usr/bin/chit-agent\n" in autostart.desktop_entry(["/usr/bin/chit-agent"])


def test_launch_agent_plist_runs_at_load() -> None:
    plist = plistlib.loads(autostart.launch_agent_plist(COMMAND))
    assert plist == {
        "Label": "com.chit.agent",
        "ProgramArguments": COMMAND,
        "RunAtLoad": True,
        "KeepAlive": False,
        "ProcessType": "Interactive",
    }


def test_run_key_value_is_a_windows_command_line() -> None:
    value = autostart.run_key_value([r"C:\Program Files\Chit\chit-agent.exe"])
    assert value == r'"C:\Program Files\Chit\chit-agent.exe"'


def test_paths_per_os(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    linux = autostart.autostart_path("linux", env, tmp_path)
    assert linux == tmp_path / "xdg" / "autostart" / "chit-agent.desktop"
    assert autostart.autostart_path("linux", {}, tmp_path) == (
        tmp_path / ".config" / "autostart" / "chit-agent.desktop"
    )
    mac = autostart.autostart_path("darwin", env, tmp_path)
    assert mac == tmp_path / "Library" / "LaunchAgents" / "com.chit.agent.plist"
    assert autostart.autostart_path("win32", env, tmp_path) is None


def test_enable_and_disable_on_linux(tmp_path: Path) -> None:
    where = {"system": "linux", "environ": {"XDG_CONFIG_HOME": str(tmp_path)}, "home": tmp_path}
    assert not autostart.is_enabled(**where)  # type: ignore[arg-type]
    autostart.enable(COMMAND, **where)  # type: ignore[arg-type]
    assert autostart.is_enabled(**where)  # type: ignore[arg-type]
    assert "chit venv" in (tmp_path / "autostart" / "chit-agent.desktop").read_text()
    autostart.set_enabled(False, **where)  # type: ignore[arg-type]
    assert not autostart.is_enabled(**where)  # type: ignore[arg-type]


def test_enable_on_macos_writes_the_plist(tmp_path: Path) -> None:
    autostart.enable(COMMAND, "darwin", {}, tmp_path)
    path = tmp_path / "Library" / "LaunchAgents" / "com.chit.agent.plist"
    assert plistlib.loads(path.read_bytes())["ProgramArguments"] == COMMAND


def test_launch_command_names_something_runnable() -> None:
    command = autostart.launch_command()
    assert command and (command[0].endswith("chit-agent") or command[-1] == "agent.cli")
