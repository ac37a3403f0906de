"""Two ends of the real Windows control pipe, for .github/workflows/control-api.yml.

``python -m tests.agent.control.pipe_peer serve ADDRESS GROUP SECONDS`` serves a pipe whose
DACL admits GROUP (run as the runner's administrator); ``... ask ADDRESS`` connects as
whoever runs it (a local user started with ``Start-Process -Credential``) and exits 0 when it
was served (printing whether it counts as an operator), 4 when refused, 3 when nothing
answers. Not a test module: the workflow runs it across user accounts, which pytest cannot.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from agent.control.client import ControlClient, ServiceNotRunning, ServiceRefused
from agent.control.server import ControlServer, Handler, operator


async def whoami(params: dict[str, Any]) -> Any:
    return {"operator": operator.get()}


OPS: dict[str, Handler] = {"hello": whoami, "whoami": whoami}


async def serve(address: str, group: str, seconds: float) -> int:
    server = ControlServer(OPS, None)
    await server.serve_pipe(address, group)
    print("serving", address, flush=True)
    try:
        await asyncio.sleep(seconds)
    finally:
        await server.close()
    return 0


async def ask(address: str) -> int:
    try:
        async with ControlClient(address) as client:
            print(json.dumps(await client.call("whoami")), flush=True)
    except ServiceRefused as exc:
        print(f"refused: {exc}", flush=True)
        return 4
    except ServiceNotRunning as exc:
        print(f"not running: {exc}", flush=True)
        return 3
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) == 4:
        return asyncio.run(serve(argv[1], argv[2], float(argv[3])))
    if argv[:1] == ["ask"] and len(argv) == 2:
        return asyncio.run(ask(argv[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
