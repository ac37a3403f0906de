#!/usr/bin/env bash
# Freeze the agent with PyInstaller into dist/chit-agent/ (Linux, and macOS on a Mac; Windows:
# scripts/build-agent.ps1): a self-contained folder, no Python needed where it runs. On Linux
# also dist/chit-agent-supervisor/, the small folder of chit-agent-supervisor that a package
# installs outside versions/ (docs/deployment.md "Updates").
#
# Usage: scripts/build-agent.sh [--version VERSION] [--no-tray] [--dist DIR]
#   --version   stamp this version instead of the package's (agent/__init__.py)
#   --no-tray   leave Qt out (a headless-only build, about a third of the size)
#   --dist      where the folder goes (default: dist, giving dist/chit-agent)
# The spec is installers/pyinstaller/chit-agent.spec; PyInstaller's work files go to
# build/pyinstaller/. The build ends by running the frozen `chit-agent --version`.
set -euo pipefail
cd "$(dirname "$0")/.."

dist=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --version) export CHIT_BUILD_VERSION=$2; shift 2 ;;
    --no-tray) export CHIT_BUILD_TRAY=0; shift ;;
    --dist) dist=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

. scripts/venv.sh
chit_ensure_installed build

rm -rf "$dist/chit-agent" "$dist/chit-agent-supervisor"
.venv/bin/python -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$dist" --workpath build/pyinstaller installers/pyinstaller/chit-agent.spec
version=$("$dist/chit-agent/chit-agent" --version)
echo "built $dist/chit-agent/ ($version, $(du -sh "$dist/chit-agent" | cut -f1))"
if [ -d "$dist/chit-agent-supervisor" ]; then
  "$dist/chit-agent-supervisor/chit-agent-supervisor" --help >/dev/null
  echo "built $dist/chit-agent-supervisor/ ($(du -sh "$dist/chit-agent-supervisor" | cut -f1))"
fi
