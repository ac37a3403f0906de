"""Without CHIT_TEST_REDIS_URL the tests start their own redis-server (issue 17, point 19)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.conftest import ENV, configured_redis
from tests.cluster.support import redis_reachable

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("redis_probe.py")


def test_the_variable_names_the_redis() -> None:
    assert configured_redis({ENV: "redis://127.0.0.1:6379/11"}) == "redis://127.0.0.1:6379/11"
    assert configured_redis({}) is None
    assert configured_redis({ENV: "  "}) is None


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_a_session_without_the_variable_runs_its_own_redis() -> None:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            str(PROBE.relative_to(ROOT)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"REDIS-URL (redis://127\.0\.0\.1:(\d+)/0)", done.stdout)
    assert found, done.stdout
    assert int(found.group(2)) != 6379, "the machine's Redis was used"
    assert not redis_reachable(found.group(1)), "the session's redis-server was left running"
