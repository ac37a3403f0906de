"""The hub serves the UI from its package, with vendored socket.io and Chart.js at the locked versions."""

from __future__ import annotations

import hashlib
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


def test_vendored_chartjs_is_the_locked_version() -> None:
    head = (VENDOR / "chart.umd.min.js").read_text(encoding="utf-8")[:200]
    found = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", head)
    assert found, "no version banner in the vendored chart.umd.min.js"
    assert found.group(1) == _locked("chart.js")
    manifest = json.loads((VENDOR / "VERSIONS.json").read_text(encoding="utf-8"))
    assert manifest["chart.js"]["version"] == _locked("chart.js")
    assert (VENDOR / "chart.js.LICENSE").read_text(encoding="utf-8").startswith("The MIT License")
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    assert package["dependencies"]["chart.js"] == _locked("chart.js"), "pin an exact version"


def test_every_vendored_file_matches_its_manifest_hash() -> None:
    manifest = json.loads((VENDOR / "VERSIONS.json").read_text(encoding="utf-8"))
    listed = {
        name: digest for entry in manifest.values() for name, digest in entry["files"].items()
    }
    assert {"socket.io.min.js", "chart.umd.min.js", "chart.js.LICENSE"} <= set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    on_disk = {p.name for p in VENDOR.iterdir()} - {"VERSIONS.json"}
    assert on_disk == set(listed), "a vendored file is missing from VERSIONS.json"


def test_vendored_copy_equals_node_modules_when_installed() -> None:
    for package, inner, name in (
        ("socket.io-client", "dist/socket.io.min.js", "socket.io.min.js"),
        ("chart.js", "dist/chart.umd.min.js", "chart.umd.min.js"),
    ):
        installed = ROOT / "node_modules" / package / inner
        if installed.exists():
            assert installed.read_bytes() == (VENDOR / name).read_bytes(), name


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
    for vendored in ("socket.io.min.js", "chart.umd.min.js"):
        status, _, _ = await _fetch(hub, "/static/vendor/" + vendored)
        assert status == 200, vendored


async def test_nothing_outside_the_static_dir_is_served(hub: HubHarness) -> None:
    for path in (
        "/static/../routes.py",
        "/static/%2e%2e/routes.py",
        "/static/nope.js",
        "/static/views",
    ):
        status, _, _ = await _fetch(hub, path)
        assert status == 404, path


async def test_the_page_is_served_with_a_strict_content_security_policy(hub: HubHarness) -> None:
    async with aiohttp.ClientSession() as http, http.get(hub.url + "/") as resp:
        policy = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
