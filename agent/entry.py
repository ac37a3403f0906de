"""Where an agent process starts: the ``chit-agent`` command, ``python -m agent.cli`` and the
frozen build all begin here, before anything else is imported.

python-socketio and python-engineio import optional back ends at package import when they are
installed: Redis and Valkey for the server's managers (and redis-py imports cryptography), and
requests and websocket-client for the *synchronous* client; arabic-reshaper imports fontTools
for a feature (reshaping by a font's own ligatures) that the agent does not configure. The agent
uses none of them (it is an asyncio client over aiohttp; its updater fetches with urllib3),
yet where they are installed, as on any machine that also runs the hub, they cost an idle
agent about 25 MiB of its memory. Marking them absent in ``sys.modules`` is Python's
documented way to make an import fail (``ModuleNotFoundError``), which those packages catch and
go on without.

Only a process that is an agent does this: a hub, or a test running hub and agent in one
process, imports the agent's modules without coming through here and keeps every back end.
"""

from __future__ import annotations

import sys

#: Optional imports of the agent's libraries for features the agent never uses.
UNUSED_OPTIONAL_IMPORTS = (
    "fontTools",
    "redis",
    "valkey",
    "requests",
    "websocket",
    "kombu",
    "kafka",
    "aio_pika",
    "zmq",
)


def skip_unused_imports() -> None:
    """Mark :data:`UNUSED_OPTIONAL_IMPORTS` absent, unless this process already imported one."""
    for name in UNUSED_OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def main() -> int:
    """The ``chit-agent`` command."""
    skip_unused_imports()
    from agent.cli import main as run

    return run()
