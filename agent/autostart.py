"""Start the agent at login, the way each OS expects it (no Qt, no admin rights).

* Linux (and other XDG desktops): ``$XDG_CONFIG_HOME/autostart/chit-agent.desktop``.
* macOS: a LaunchAgent ``~/Library/LaunchAgents/com.chit.agent.plist`` with RunAtLoad.
* Windows: a value under ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``.

The file and registry contents are pure functions of the launch command, so they are tested
on any OS; only :func:`enable`, :func:`disable` and :func:`is_enabled` touch the system.
"""

from __future__ import annotations

import contextlib
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

APP_NAME = "Chit Agent"
DESKTOP_FILE = "chit-agent.desktop"
LAUNCH_AGENT_LABEL = "com.chit.agent"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def launch_command() -> list[str]:
    """How to start the tray agent: the installed console script, else ``python -m``."""
    script = Path(sys.executable).with_name("chit-agent.exe" if os.name == "nt" else "chit-agent")
    if script.exists():
        return [str(script)]
    found = shutil.which("chit-agent")
    return [found] if found else [sys.executable, "-m", "agent.cli"]


def _desktop_quote(arg: str) -> str:
    """Quote one Exec argument per the Desktop Entry spec."""
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`%"):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    return '"' + escaped.replace("$", "\\$").replace("%", "%%") + '"'


def desktop_entry(command: Sequence[str]) -> str:
    """An XDG autostart (and menu) entry that runs ``command``."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={APP_NAME}\n"
        "Comment=Drives the kitchen's receipt printers for Chit\n"
        f"Exec={' '.join(_desktop_quote(a) for a in command)}\n"
        "Icon=printer\n"
        "Terminal=false\n"
        "Categories=Utility;\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def launch_agent_plist(command: Sequence[str]) -> bytes:
    """A macOS LaunchAgent that runs ``command`` at login (and not again if it quits)."""
    plist = {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "KeepAlive": False,
        "ProcessType": "Interactive",
    }
    return plistlib.dumps(plist)


def run_key_value(command: Sequence[str]) -> str:
    """The Windows Run-key command line for ``command`` (quoted the way Windows parses it)."""
    return subprocess.list2cmdline(list(command))


def autostart_path(
    system: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Path | None:
    """Where the autostart file lives on this OS (None on Windows: it is a registry value)."""
    system = system or sys.platform
    env = os.environ if environ is None else environ
    home = home or Path.home()
    if system.startswith("win"):
        return None
    if system == "darwin":
        return home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    config = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    return Path(config) / "autostart" / DESKTOP_FILE


def enable(
    command: Sequence[str] | None = None,
    system: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> None:
    """Start the agent at login from now on."""
    command = list(command or launch_command())
    system = system or sys.platform
    path = autostart_path(system, environ, home)
    if path is None:
        _set_run_key(run_key_value(command))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if system == "darwin":
        path.write_bytes(launch_agent_plist(command))
    else:
        path.write_text(desktop_entry(command))


def disable(
    system: str | None = None, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> None:
    """Stop starting the agent at login."""
    path = autostart_path(system, environ, home)
    if path is None:
        _set_run_key(None)
    else:
        path.unlink(missing_ok=True)


def is_enabled(
    system: str | None = None, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> bool:
    """Whether the agent starts at login now."""
    path = autostart_path(system, environ, home)
    return _get_run_key() is not None if path is None else path.exists()


def set_enabled(
    on: bool,
    system: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> None:
    """Enable or disable, as the Settings checkbox says."""
    if on:
        enable(None, system, environ, home)
    else:
        disable(system, environ, home)


def _set_run_key(value: str | None) -> None:
    if sys.platform != "win32":
        raise OSError("the Run key exists on Windows only")
    import winreg

    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
        if value is None:
            with contextlib.suppress(FileNotFoundError):
                winreg.DeleteValue(key, APP_NAME)
        else:
            winreg.SetValueEx(key, APP_NAME, 0, winreg.REG_SZ, value)


def _get_run_key() -> str | None:
    if sys.platform != "win32":
        raise OSError("the Run key exists on Windows only")
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            value, _ = winreg.QueryValueEx(key, APP_NAME)
    except FileNotFoundError:
        return None
    return str(value)
