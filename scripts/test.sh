#!/usr/bin/env bash
# Install everything the test suite needs (into .venv and node_modules) and run it:
# ruff (lint + format check), mypy, then pytest. Usage: ./scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
chit_ensure_installed dev,tray

if command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error
else
  echo "npm not found: the JavaScript client tests will be skipped" >&2
fi

if [ -x scripts/setup-system.sh ]; then
  scripts/setup-system.sh
fi

echo "== ruff check"; .venv/bin/ruff check shared hub agent tests scripts bench
echo "== ruff format --check"; .venv/bin/ruff format --check shared hub agent tests scripts bench
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest "$@"
