"""``chit-agent`` that SIGKILLs itself the moment a job has printed, before the spool commits.

A test-only entry point (``python -m tests.e2e.crashing_agent run --headless``): the crash
point is exactly the window issue 11 measured, after the write and the status read that
follows it, before the outcome is committed to the spool. Nothing in the agent knows of it.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from agent import cli
from agent.jobs import JobRunner

_finish = JobRunner._finish


async def _crash_when_printed(self: JobRunner, job: Any, state: str, *args: Any) -> None:
    if state == "printed":
        os.kill(os.getpid(), signal.SIGKILL)
    await _finish(self, job, state, *args)  # type: ignore[arg-type]


JobRunner._finish = _crash_when_printed  # type: ignore[assignment,method-assign]

if __name__ == "__main__":
    sys.exit(cli.main())
