#!/usr/bin/env bash
# Install the hub into .venv (only when pyproject.toml changed since the last install) and run
# it on its embedded defaults (127.0.0.1:3001).
# Extra arguments go to chit-hub, e.g. ./scripts/run-hub.sh --port 8080
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
chit_ensure_installed hub,agent
exec .venv/bin/chit-hub "$@"
