#!/usr/bin/env bash
# Install the hub into .venv and run it on its embedded defaults (127.0.0.1:3001).
# Extra arguments go to chit-hub, e.g. ./scripts/run-hub.sh --port 8080
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[hub,agent]'
exec .venv/bin/chit-hub "$@"
