"""Small agent builds, a real TUF repository and an install layout, for the update tests.

A build is a tar.gz whose ``chit-agent`` is a Python script (shebang: this interpreter). The
``agent`` kind runs the real agent from this checkout reporting the build's version; the
``sleeper`` kind starts and never connects; ``exits`` ends at once with a given code.
"""

from __future__ import annotations

import io
import shutil
import sys
import tarfile
from pathlib import Path

from agent.updates.layout import Layout
from hub.releases.repository import Repository, generate_keys, load_signer

ROOT = Path(__file__).resolve().parents[1]

SCRIPTS = {
    "agent": (
        "import sys\nsys.path.insert(0, {root!r})\nimport agent\nagent.__version__ = {version!r}\n"
        "from agent import cli\nsys.exit(cli.main())\n"
    ),
    "sleeper": "import time\nprint('version {version} never connects', flush=True)\ntime.sleep(600)\n",
    "exits": "import sys\nsys.exit({code})\n",
    # What an agent does after installing {target}: mark it pending, switch, exit to restart.
    "switcher": (
        "import os, sys, time\nsys.path.insert(0, {root!r})\n"
        "from agent.updates.layout import Layout, PendingUpdate\n"
        "layout = Layout(__import__('pathlib').Path(os.environ['CHIT_AGENT_INSTALL_ROOT']))\n"
        "now = time.time()\n"
        "layout.set_pending(PendingUpdate({version!r}, {target!r}, now, now + 60))\n"
        "layout.switch({target!r})\nsys.exit(75)\n"
    ),
}


def make_build(
    folder: Path, version: str, kind: str = "agent", code: int = 3, target: str = ""
) -> Path:
    """A build archive ``chit-agent-<version>.tar.gz`` of one kind."""
    script = f"#!{sys.executable}\n" + SCRIPTS[kind].format(
        root=str(ROOT), version=version, code=code, target=target
    )
    data = script.encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"chit-agent-{version}-{kind}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("chit-agent")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        version_file = tarfile.TarInfo("VERSION")
        version_file.size = len(version.encode())
        tar.addfile(version_file, io.BytesIO(version.encode()))
    return path


def make_repository(hub_data_dir: Path, keys: Path) -> Repository:
    """A repository in a hub's data dir, with offline keys in ``keys``."""
    generate_keys(keys)
    repo = Repository(hub_data_dir / "agent-releases")
    repo.init(load_signer(keys / "root.pem"), load_signer(keys / "targets.pem"))
    return repo


def release(repo: Repository, keys: Path, archive: Path, platform: str, version: str) -> None:
    """Sign and publish a build."""
    repo.add_build(archive, platform, version, load_signer(keys / "targets.pem"))


def make_layout(root: Path, repo: Repository, first: Path, version: str) -> Layout:
    """An install root with ``first`` installed as ``version`` and the repository's root trusted."""
    layout = Layout(root)
    layout.install(first, version)
    layout.switch(version)
    shutil.copyfile(repo.metadata_dir / "root.json", layout.trusted_root)
    return layout
