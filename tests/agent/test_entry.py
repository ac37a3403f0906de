"""The agent's process entry keeps what an agent never uses out of its memory."""

from __future__ import annotations

import json
import subprocess
import sys

#: Heavy modules an idle agent process must not import (see agent.entry and agent.service).
NOT_IN_AN_AGENT = ("redis", "cryptography", "jwt", "requests", "websocket", "fontTools", "zeroconf")

PROBE = """
import json, sys
{start}
import agent.cli, agent.service, agent.host, agent.render
import socketio
socketio.AsyncClient()  # the agent's client still builds without the skipped back ends
print(json.dumps(sorted(m for m in {names!r} if sys.modules.get(m) is not None)))
"""


def _loaded(start: str) -> list[str]:
    code = PROBE.format(start=start, names=NOT_IN_AN_AGENT)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_an_agent_process_imports_none_of_the_unused_back_ends() -> None:
    assert _loaded("from agent.entry import skip_unused_imports; skip_unused_imports()") == []


def test_a_process_that_is_not_an_agent_keeps_them() -> None:
    """The hub (and a test running hub and agent together) imports the agent's modules without
    the entry: python-socketio's Redis manager must still be there for it."""
    assert "redis" in _loaded("import hub.cluster")


def test_the_module_entry_is_as_lean_as_the_command() -> None:
    code = "import runpy, sys; sys.argv = ['chit-agent', '--version']; "
    code += "runpy.run_module('agent.cli', run_name='__main__')"
    probe = f"import atexit, json, sys; atexit.register(lambda: print(json.dumps(sorted(m for m in {NOT_IN_AN_AGENT!r} if sys.modules.get(m) is not None)))); {code}"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
