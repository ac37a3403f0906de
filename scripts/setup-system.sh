#!/usr/bin/env bash
# System packages the tests need, all from Debian's archive (never a downloaded browser):
# - chromium and chromium-driver for the browser tests of the web UI;
# - xvfb and the xcb libraries Qt's xcb plugin needs, for the tray screenshots under X;
# - nginx, to test the shipped cluster configuration (deploy/nginx/chit.conf);
# - systemd (for systemd-analyze only: it verifies deploy/systemd/chit-hub.service offline);
# - cups (cupsd, the socket backend) and cups-client (lpadmin, lpstat): the CUPS transport's
#   tests start their own cupsd on a loopback port (never the system's, which stays stopped);
# - debootstrap, for the clean Debian root the .deb is installed into (tests/installers);
# - nsis (makensis), to compile the Windows installer's script (installers/windows);
# - libusb-1.0-0, which the frozen agent bundles (scripts/build-agent.sh).
# Without apt-get (or root) it warns and carries on; the tests that need a package then skip
# with a reason.
set -uo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb xauth)
/sbin/ldconfig -p 2>/dev/null | grep -q libxcb-icccm.so.4 \
  || missing+=(libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ -x /usr/sbin/cupsd ] && [ -x /usr/lib/cups/backend/socket ] || missing+=(cups)
[ -x /usr/sbin/lpadmin ] || missing+=(cups-client)
[ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
command -v makensis >/dev/null 2>&1 || missing+=(nsis)
/sbin/ldconfig -p 2>/dev/null | grep -q libusb-1.0.so.0 || missing+=(libusb-1.0-0)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: apt-get not found; missing: ${missing[*]}" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "warning: not root; install with apt-get: ${missing[*]}" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Install packages without starting their services (nginx would otherwise take port 80, and
# the system's cupsd port 631).
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ] && [ -z "$SUDO" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
fi
trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
if ! timeout 600 $SUDO apt-get update -q \
  || ! timeout 1200 $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  echo "warning: installing ${missing[*]} failed; tests that need them will skip" >&2
fi
exit 0
