"""The hub serves the UI from its package, with the vendored socket.io client at the locked version."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp

from hub.web.routes import STATIC_DIR
from tests.support import HubHarness

ROOT = Path(__file__).resolve().parents[2]
VENDOR = STATIC_DIR / "vendor"


def _locked(package: str) -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"][f"node_modules/{package}"]["version"])


def test_vendored_socketio_client_is_the_locked_version() -> None:
    head = (VENDOR / "socket.io.min.js").read_text(encoding="utf-8")[:200]
    found = re.search(r"Socket\.IO v(\d+\.\d+\.\d+)", head)
    assert found, "no version banner in the vendored socket.io.min.js"
    assert found.group(1) == _locked("socket.io-client")
    manifest = json.loads((VENDOR / "VERSIONS.json").read_text(encoding="utf-8"))
    assert manifest["socket.io-client"]["version"] == _locked("socket.io-client")
    assert (VENDOR / "socket.io.LICENSE").read_text(encoding="utf-8").startswith("The MIT License")


def test_vendored_copy_equals_node_modules_when_installed() -> None:
    installed = ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
    if installed.exists():
        assert installed.read_bytes() == (VENDOR / "socket.io.min.js").read_bytes()


def test_the_page_uses_no_cdn() -> None:
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in (".html", ".js", ".css") and path.parent != VENDOR:
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"(src|href)=\"https?://", text), path


async def _fetch(hub: HubHarness, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(hub.url + path) as resp,
    ):
        return resp.status, resp.content_type, await resp.text()


async def test_index_and_static_files_are_served(hub: HubHarness) -> None:
    status, kind, body = await _fetch(hub, "/")
    assert (status, kind) == (200, "text/html")
    assert '<script src="/static/vendor/socket.io.min.js"' in body
    status, kind, _ = await _fetch(hub, "/static/app.js")
    assert status == 200
    assert "javascript" in kind
    status, _, _ = await _fetch(hub, "/static/vendor/socket.io.min.js")
    assert status == 200


async def test_nothing_outside_the_static_dir_is_served(hub: HubHarness) -> None:
    for path in (
        "/static/../routes.py",
        "/static/%2e%2e/routes.py",
        "/static/nope.js",
        "/static/views",
    ):
        status, _, _ = await _fetch(hub, path)
        assert status == 404, path
