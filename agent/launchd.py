"""The macOS launchd jobs of the .pkg: a LaunchDaemon for the headless core, a LaunchAgent for
the tray (installers/macos/build-pkg.sh ships them).

The daemon runs ``chit-agent run --headless`` from the app bundle at boot as the hidden user
``_chitagent`` (created by the package's postinstall, primary group ``_lp``), kept alive by
launchd (restarted whenever it exits), with its settings in /Library/Application Support/Chit
and its logs in /Library/Logs/Chit. The agent job starts the tray in each user's GUI session
at login and restarts it only when it crashed (Quit stays quit). ``python -m agent.launchd
DIR`` writes both; installers/macos/*.plist are its output and a test keeps them the same.
"""

from __future__ import annotations

import plistlib
import sys
from pathlib import Path
from typing import Any

DAEMON_LABEL = "io.chit.agent"
TRAY_LABEL = "io.chit.agent.tray"
APP = "/Applications/Chit Agent.app"
EXECUTABLE = f"{APP}/Contents/MacOS/chit-agent"
USER = "_chitagent"
GROUP = "_lp"
STATE = "/Library/Application Support/Chit/agent"
LOGS = "/Library/Logs/Chit"
#: The preseeded enrolment, as on Linux (the service enrols with it at its first start).
ENROLL_PRESEED = "/etc/chit-agent/enroll.toml"


def daemon() -> dict[str, Any]:
    """/Library/LaunchDaemons/io.chit.agent.plist."""
    return {
        "Label": DAEMON_LABEL,
        "ProgramArguments": [EXECUTABLE, "run", "--headless"],
        "UserName": USER,
        "GroupName": GROUP,
        "RunAtLoad": True,
        "KeepAlive": True,
        "ThrottleInterval": 5,
        "ProcessType": "Background",
        "Umask": 0o027,
        "EnvironmentVariables": {
            "CHIT_AGENT_CONFIG_DIR": STATE,
            "CHIT_AGENT_DATA_DIR": STATE,
            "CHIT_AGENT_LOG_DIR": LOGS,
        },
        "StandardOutPath": f"{LOGS}/chit-agent.out.log",
        "StandardErrorPath": f"{LOGS}/chit-agent.out.log",
    }


def tray() -> dict[str, Any]:
    """/Library/LaunchAgents/io.chit.agent.tray.plist."""
    return {
        "Label": TRAY_LABEL,
        "ProgramArguments": [EXECUTABLE],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "LimitLoadToSessionType": ["Aqua"],
        "ProcessType": "Interactive",
    }


def files() -> dict[str, bytes]:
    """Both plists by file name, as XML."""
    return {
        f"{DAEMON_LABEL}.plist": plistlib.dumps(daemon(), sort_keys=True),
        f"{TRAY_LABEL}.plist": plistlib.dumps(tray(), sort_keys=True),
    }


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    for name, content in files().items():
        (folder / name).write_bytes(content)
