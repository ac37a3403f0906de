#!/bin/sh
# Uninstall the Chit agent from this Mac:
#   sudo "/Library/Application Support/Chit/uninstall.sh" [--purge]
# Stops and removes the LaunchDaemon and every user's tray LaunchAgent, the app and the
# chit-agent command, and forgets the package. --purge also deletes the settings and device
# token (/Library/Application Support/Chit), the logs, the preseed and the _chitagent user.
# CHIT_PKG_ROOT prefixes every path (the tests run this script against a scratch folder).
set -eu
ROOT=${CHIT_PKG_ROOT:-}
PURGE=0
[ "${1:-}" = --purge ] && PURGE=1
if [ "$(id -u)" -ne 0 ] && [ -z "$ROOT" ]; then
  echo "run it as root: sudo $0 $*" >&2
  exit 1
fi

launchctl bootout system/io.chit.agent 2>/dev/null || true
for uid in $(ps -axo uid=,comm= | awk '/loginwindow$/ {print $1}' | sort -u); do
  launchctl bootout "gui/$uid/io.chit.agent.tray" 2>/dev/null || true
done
rm -f "$ROOT/Library/LaunchDaemons/io.chit.agent.plist" \
  "$ROOT/Library/LaunchAgents/io.chit.agent.tray.plist" "$ROOT/usr/local/bin/chit-agent"
rm -rf "$ROOT/Applications/Chit Agent.app"
pkgutil --forget io.chit.agent >/dev/null 2>&1 || true

if [ "$PURGE" = 1 ]; then
  rm -rf "$ROOT/Library/Logs/Chit" "$ROOT/etc/chit-agent"
  if dscl . -read /Users/_chitagent >/dev/null 2>&1; then
    dscl . -delete /Users/_chitagent
  fi
  # Last: this script lives in the folder it deletes.
  rm -rf "$ROOT/Library/Application Support/Chit"
fi
echo "Chit agent removed$([ "$PURGE" = 1 ] && echo ', with its settings and logs')."
