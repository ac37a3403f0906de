#!/usr/bin/env bash
# System packages the browser tests need: Debian's chromium and chromium-driver.
# Never downloads a browser from elsewhere. Without apt-get (or root) it warns and carries on;
# the browser tests then skip with a reason.
set -uo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: apt-get not found; install chromium and chromium-driver to run the browser tests" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "warning: not root; run 'apt-get install chromium chromium-driver' to run the browser tests" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! timeout 600 $SUDO apt-get update -q \
  || ! timeout 1200 $SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver; then
  echo "warning: installing chromium failed; the browser tests will be skipped" >&2
fi
exit 0
