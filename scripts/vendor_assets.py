"""Copy pinned front-end libraries from node_modules into hub/web/static/vendor/.

The hub serves these files itself (no CDN, no npm at run time), so they are committed.
Run after `npm ci` whenever package-lock.json changes:

    .venv/bin/python scripts/vendor_assets.py          # copy and record versions
    .venv/bin/python scripts/vendor_assets.py --check  # exit 1 when the copies are stale
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "hub" / "web" / "static" / "vendor"
MANIFEST = VENDOR / "VERSIONS.json"
#: package -> (file in the package, name in vendor/)
#:
#: chart.js draws the monitoring dashboard. Chosen over uPlot because one library covers all
#: of its charts (time-series lines, bars for the duration histogram, a doughnut for desktop vs
#: web) and its UMD build is a single self-contained script (its only dependency is bundled),
#: loaded with a plain <script> tag: no build step, MIT licensed, ~200 KB.
ASSETS: dict[str, list[tuple[str, str]]] = {
    "socket.io-client": [
        ("dist/socket.io.min.js", "socket.io.min.js"),
        ("LICENSE", "socket.io.LICENSE"),
    ],
    "chart.js": [
        ("dist/chart.umd.min.js", "chart.umd.min.js"),
        ("LICENSE.md", "chart.js.LICENSE"),
    ],
}


def locked_version(package: str) -> str:
    """The version package-lock.json pins for ``package``."""
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"][f"node_modules/{package}"]["version"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor() -> dict[str, object]:
    """Copy every asset and return the manifest written beside them."""
    manifest: dict[str, object] = {}
    for package, files in ASSETS.items():
        source = ROOT / "node_modules" / package
        installed = json.loads((source / "package.json").read_text(encoding="utf-8"))["version"]
        if installed != locked_version(package):
            raise SystemExit(f"{package} {installed} is installed but the lock says otherwise")
        copied = {}
        for inner, name in files:
            shutil.copyfile(source / inner, VENDOR / name)
            copied[name] = _sha256(VENDOR / name)
        manifest[package] = {"version": installed, "files": copied}
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def stale() -> list[str]:
    """What disagrees between the lock file, the manifest and the vendored files."""
    problems = []
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    for package, files in ASSETS.items():
        entry = manifest.get(package, {})
        if entry.get("version") != locked_version(package):
            problems.append(f"{package}: vendored {entry.get('version')}, locked differently")
        for _, name in files:
            if entry.get("files", {}).get(name) != _sha256(VENDOR / name):
                problems.append(f"{name}: content differs from the manifest")
    return problems


def main() -> int:
    """Vendor the assets, or with --check report stale ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify, copy nothing")
    if parser.parse_args().check:
        problems = stale()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for package, entry in vendor().items():
        print(f"vendored {package} {entry['version']}")  # type: ignore[index]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
