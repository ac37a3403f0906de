"""The chit-hub command line: tokens, and a real hub process serving /healthz."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hub.cli import main
from shared.tokens import Role, TokenKeys, verify
from tests.support import free_port


def test_token_command_mints_a_verifiable_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "token",
            "--data-dir",
            str(tmp_path),
            "--company",
            "acme",
            "--branch",
            "b1",
            "--role",
            "manager",
            "--ttl",
            "60",
        ]
    )
    assert code == 0
    token = capsys.readouterr().out.strip()
    secret = (tmp_path / "jwt-secret").read_text().strip()
    claims = verify(token, TokenKeys(secret=secret))
    assert (claims.role, claims.company_id, claims.branch_id) == (Role.MANAGER, "acme", "b1")


def test_token_needs_company_for_tenant_roles(tmp_path: Path) -> None:
    assert main(["token", "--data-dir", str(tmp_path), "--role", "staff"]) == 2


def test_hub_process_serves_healthz(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CHIT_HUB_DATA_DIR": str(tmp_path), "CHIT_HUB_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "--json-logs"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        body = _poll(f"http://127.0.0.1:{port}/healthz", deadline=time.monotonic() + 20)
        assert body["status"] == "ok"
        assert (tmp_path / "jwt-secret").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _poll(url: str, deadline: float) -> dict[str, object]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return json.loads(resp.read())  # type: ignore[no-any-return]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
