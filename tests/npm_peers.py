"""Encoders we did not write, from npm, pinned in ``tests/peers/<name>`` (package-lock.json):
installed on first use, and run with a JSON request on stdin, hex bytes on stdout."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

PEERS = Path(__file__).resolve().parent / "peers"


def peer_missing(name: str, module: str) -> str | None:
    """Why the peer in ``tests/peers/<name>`` cannot run here (None: it can), running
    ``npm ci`` there when ``module`` is not installed yet."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed"
    folder = PEERS / name
    if not (folder / "node_modules" / module).exists():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, capture_output=True,
            timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            return f"npm ci failed: {done.stderr.decode(errors='replace')[-300:]}"
    return None


def peer_bytes(name: str, request: Any) -> bytes:
    """What the peer's ``encode.mjs`` prints for ``request``, as bytes."""
    done = subprocess.run(
        ["node", "encode.mjs"], cwd=PEERS / name, input=json.dumps(request).encode(),
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return bytes.fromhex(done.stdout.decode())
