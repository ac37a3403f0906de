"""The supervisor rolls back a new version that does not confirm, and runs the rest as is.

Real processes: each build's ``chit-agent`` is a script the supervisor starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.updates.layout import Layout, PendingUpdate
from agent.updates.supervisor import RESTART_EXIT_CODE, supervise
from agent.updates.updater import RESTART_EXIT_CODE as AGENT_RESTART_CODE
from tests.updates_support import ROOT, make_build


def _layout(tmp_path: Path, new_kind: str, code: int = 3) -> Layout:
    layout = Layout(tmp_path / "opt")
    layout.install(make_build(tmp_path / "dist", "1.0.0", "exits", code=0), "1.0.0")
    layout.install(make_build(tmp_path / "dist", "1.1.0", new_kind, code=code), "1.1.0")
    return layout


def _pending(layout: Layout, deadline_in: float) -> None:
    now = time.time()
    layout.set_pending(PendingUpdate("1.0.0", "1.1.0", now, now + deadline_in))
    layout.switch("1.1.0")


def test_the_restart_codes_agree() -> None:
    assert RESTART_EXIT_CODE == AGENT_RESTART_CODE == 75


def test_a_version_that_never_connects_is_stopped_and_rolled_back(tmp_path: Path) -> None:
    layout = _layout(tmp_path, "sleeper")
    _pending(layout, deadline_in=1.0)
    started = time.monotonic()
    assert supervise(layout, ["run"], poll=0.1, grace=5) == RESTART_EXIT_CODE
    assert 0.9 <= time.monotonic() - started < 10
    assert layout.current_version() == "1.0.0"
    assert layout.pending() is None
    [outcome] = layout.outcomes()
    assert (outcome.step, outcome.version, outcome.from_version) == (
        "rolled_back",
        "1.1.0",
        "1.0.0",
    )
    assert "did not connect" in outcome.detail
    assert layout.bad_versions() == {"1.1.0"}
    # The service manager starts the supervisor again: the previous version runs.
    assert supervise(layout, ["run"], poll=0.1) == 0


def test_a_version_that_exits_before_confirming_is_rolled_back(tmp_path: Path) -> None:
    layout = _layout(tmp_path, "exits", code=3)
    _pending(layout, deadline_in=60)
    assert supervise(layout, ["run"], poll=0.1) == RESTART_EXIT_CODE
    assert layout.current_version() == "1.0.0"
    assert "exited with code 3" in layout.outcomes()[0].detail


def test_a_deadline_passed_while_down_is_rolled_back_before_anything_runs(tmp_path: Path) -> None:
    layout = _layout(tmp_path, "sleeper")
    _pending(layout, deadline_in=-1)
    assert supervise(layout, ["run"], poll=0.1) == 0  # 1.0.0 ran and exited 0
    assert layout.current_version() == "1.0.0"
    assert layout.outcomes()[0].step == "rolled_back"


def test_no_pending_update_just_runs_the_current_version(tmp_path: Path) -> None:
    layout = _layout(tmp_path, "exits", code=0)
    layout.switch("1.1.0")
    assert supervise(layout, ["run"], poll=0.1) == 0
    assert layout.current_version() == "1.1.0" and layout.outcomes() == []


def test_the_old_version_switching_to_the_new_one_is_not_rolled_back(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "opt")
    layout.install(make_build(tmp_path / "a", "1.0.0", "switcher", target="1.1.0"), "1.0.0")
    layout.install(make_build(tmp_path / "b", "1.1.0", "sleeper"), "1.1.0")
    layout.switch("1.0.0")
    assert supervise(layout, ["run"], poll=0.1) == RESTART_EXIT_CODE
    assert layout.current_version() == "1.1.0"
    pending = layout.pending()
    assert pending is not None and pending.to_version == "1.1.0"
    assert layout.outcomes() == []


def test_the_pointer_file_layout_switches_too(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "opt", symlink=False)
    layout.install(make_build(tmp_path / "dist", "1.0.0", "exits", code=0), "1.0.0")
    layout.install(make_build(tmp_path / "dist", "1.1.0", "exits", code=0), "1.1.0")
    layout.switch("1.0.0")
    layout.switch("1.1.0")
    assert (layout.root / "current.txt").read_text() == "1.1.0"
    assert layout.current_version() == "1.1.0"
    assert not (layout.root / "current").exists()


def test_a_build_with_paths_outside_its_folder_is_not_installed(
    tmp_path: Path,
) -> None:
    import io
    import tarfile

    layout = Layout(tmp_path / "opt")
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(tarfile.OutsideDestinationError):
        layout.install(bad, "2.0.0")
    assert not layout.installed("2.0.0") and not (tmp_path / "opt" / "escaped").exists()


def test_the_command_line_runs_the_current_version(tmp_path: Path) -> None:
    layout = _layout(tmp_path, "exits", code=4)
    layout.switch("1.1.0")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.updates.supervisor",
            "--install-root",
            str(layout.root),
            "--",
            "run",
            "--headless",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 4


def test_a_build_without_its_program_is_not_installed(tmp_path: Path) -> None:
    import io
    import tarfile

    from agent.updates.layout import LayoutError

    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz") as tar:
        info = tarfile.TarInfo("README")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    layout = Layout(tmp_path / "opt")
    with pytest.raises(LayoutError):
        layout.install(empty, "2.0.0")
    assert not layout.installed("2.0.0")


def _package_version(layout: Layout, version: str) -> None:
    """What dpkg does: unpack a build into versions/<version>/ (no pointer change)."""
    folder = layout.versions / version
    folder.mkdir(parents=True)
    (folder / "chit-agent").write_text("#!/bin/sh\n")
    (folder / "chit-agent").chmod(0o755)


def test_a_package_makes_its_version_current_on_a_first_install(tmp_path: Path) -> None:
    from agent.updates.layout import adopt

    layout = Layout(tmp_path / "opt")
    _package_version(layout, "1.0.0")
    assert adopt(layout, "1.0.0") == "1.0.0"
    assert layout.current_version() == "1.0.0" and os.readlink(layout.root / "current") == (
        "versions/1.0.0"
    )


def test_a_newer_package_becomes_current_and_an_older_one_does_not(tmp_path: Path) -> None:
    from agent.updates.layout import adopt

    layout = _layout(tmp_path, "exits")
    layout.switch("1.1.0")  # the agent updated itself to 1.1.0
    _package_version(layout, "1.0.5")
    assert adopt(layout, "1.0.5") == "1.1.0"  # the package is older: the agent's stays
    assert layout.current_version() == "1.1.0"
    _package_version(layout, "1.2.0")
    assert adopt(layout, "1.2.0") == "1.2.0"
    assert layout.current_version() == "1.2.0"
    assert adopt(layout, "1.0.5", force=True) == "1.0.5"  # IT going back by hand


def test_a_package_replaces_a_pointer_to_a_folder_that_is_gone(tmp_path: Path) -> None:
    from agent.updates.layout import adopt

    layout = _layout(tmp_path, "exits")
    layout.switch("1.1.0")
    shutil.rmtree(layout.versions / "1.1.0")  # dpkg removed the old package's folder
    _package_version(layout, "0.9.0")
    assert adopt(layout, "0.9.0") == "0.9.0"


def test_a_pending_update_keeps_something_to_roll_back_to(tmp_path: Path) -> None:
    from agent.updates.layout import adopt

    layout = _layout(tmp_path, "exits")
    _pending(layout, deadline_in=60)  # 1.0.0 -> 1.1.0, not confirmed yet
    shutil.rmtree(layout.versions / "1.0.0")  # the package that was 1.0.0 is upgraded
    _package_version(layout, "1.0.1")
    assert adopt(layout, "1.0.1") == "1.1.0"
    pending = layout.pending()
    assert pending is not None and pending.from_version == "1.0.1"


def test_adopting_a_version_that_is_not_there_fails_loudly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent.updates.supervisor", "--install-root",
         str(tmp_path / "opt"), "--adopt", "3.0.0"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "3.0.0 is not installed" in done.stderr


def test_the_command_line_adopts_a_package_version(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "opt")
    _package_version(layout, "1.0.0")
    done = subprocess.run(
        [sys.executable, "-m", "agent.updates.supervisor", "--install-root",
         str(layout.root), "--adopt", "1.0.0"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "chit-agent-supervisor: current is 1.0.0"
    assert layout.current_version() == "1.0.0"


def test_an_installed_version_is_readable_by_everyone_whatever_the_umask(tmp_path: Path) -> None:
    import io
    import tarfile

    archive = tmp_path / "no-top-entry.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:  # members only, no "./" entry
        info = tarfile.TarInfo("chit-agent")
        info.size, info.mode = 2, 0o755
        tar.addfile(info, io.BytesIO(b"#!"))
    layout = Layout(tmp_path / "opt")
    old = os.umask(0o027)  # the .deb's unit
    try:
        folder = layout.install(archive, "2.0.0")
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o755
