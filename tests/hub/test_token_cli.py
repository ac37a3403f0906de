"""``chit-hub token``: non-positive lifetimes are refused; hub-wide roles need no company;
``chit-hub serve --jwks-url`` verifies platform tokens from a real JWKS server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from hub.cli import main
from shared.tokens import Role, TokenKeys, verify
from tests.hub.jwks_support import JwksServer, platform_token
from tests.support import free_port, wait_healthy


@pytest.mark.parametrize("ttl", ["0", "-60"])
def test_non_positive_ttl_is_refused(tmp_path: Path, ttl: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "token",
            "--data-dir",
            str(tmp_path),
            "--role",
            "manager",
            "--company",
            "acme",
            "--ttl",
            ttl,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"--ttl must be a positive number of seconds, not {ttl}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("role", ["operator", "service"])
def test_hub_wide_roles_need_no_company(
    tmp_path: Path, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--data-dir", str(tmp_path), "--role", role, "--ttl", "60"]) == 0
    secret = (tmp_path / "jwt-secret").read_text().strip()
    claims = verify(capsys.readouterr().out.strip(), TokenKeys(secret))
    assert claims.role is Role(role) and claims.company_id is None


def test_tenant_roles_still_need_a_company(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--data-dir", str(tmp_path), "--role", "staff"]) == 2
    assert "--company is required for role staff" in capsys.readouterr().err


async def test_serve_with_jwks_url_flag(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    async with JwksServer((private, "k1")) as jwks:
        port = free_port()
        env = {
            **os.environ,
            "CHIT_HUB_DATA_DIR": str(tmp_path),
            "CHIT_HUB_PORT": str(port),
            "CHIT_HUB_ROLE_MAP": '{"cashier": "staff"}',
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub.cli",
            "serve",
            "--jwks-url",
            jwks.url,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            await wait_healthy(url)
            headers = {"Authorization": f"Bearer {platform_token(private, 'k1', role='cashier')}"}
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
                http.get(url + "/api/v1/me", headers=headers) as resp,
            ):
                body = await resp.json()
            assert (resp.status, body["role"]) == (200, "staff")
            assert jwks.requests >= 1
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 20)
