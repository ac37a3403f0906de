#!/usr/bin/env bash
# A clean Debian 12 (bookworm) root for the package test (tests/installers/test_deb.py), made
# once with debootstrap from Debian's archive and cached outside the repo.
#
# Usage: scripts/debian-root.sh [DIR]      (default: ~/.cache/chit/debian12-root)
# Prints DIR. A root that is there and complete is reused; a missing or half-made one is made
# again. It is a minbase root (essential packages and apt): no Python, no systemd, as a till
# that never saw Python would be. The mirror is the one this machine's apt uses
# (/etc/apt/sources.list*), or CHIT_DEBIAN_MIRROR. Needs root and debootstrap
# (scripts/setup-system.sh installs it). Concurrent runs wait on DIR.lock (flock).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

root=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/chit/debian12-root}
stamp="$root/.chit-root-complete"
if [ -f "$stamp" ]; then
  echo "$root"
  exit 0
fi
# One maker at a time (two test sessions on one machine): the second waits for the first's
# root instead of deleting its half-made copy and starting over.
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock -w 1500 9 || { echo "error: another debian-root.sh held $root.lock too long" >&2; exit 1; }
if [ -f "$stamp" ]; then
  echo "$root"
  exit 0
fi

mirror_from_apt() {
  # deb822 (URIs: ...) and one-line (deb URL SUITE ...) sources; the first Debian archive.
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null \
    | grep -Eo '(URIs:[[:space:]]*|^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)[a-z]+://[^[:space:]]+' \
    | grep -Eo '[a-z]+://[^[:space:]]+' | grep -E '/debian/?$' | head -n1
}
mirror=${CHIT_DEBIAN_MIRROR:-$(mirror_from_apt || true)}
if [ -z "$mirror" ]; then
  echo "error: no Debian mirror in /etc/apt/sources.list*; set CHIT_DEBIAN_MIRROR" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed" >&2; exit 1; }

work="$root.partial"
rm -rf "$work"
mkdir -p "$(dirname "$root")"
echo "debootstrap bookworm from $mirror into $work ..." >&2
timeout 1200 debootstrap --variant=minbase bookworm "$work" "$mirror" >"$work.log" 2>&1 || {
  tail -n 30 "$work.log" >&2
  echo "error: debootstrap failed (log: $work.log)" >&2
  exit 1
}
# Keep the root small and its package lists fresh enough for apt-get -f install.
rm -rf "$work"/var/cache/apt/archives/*.deb
date -u +%FT%TZ >"$work/.chit-root-complete"
rm -rf "$root"
mv "$work" "$root"
rm -f "$work.log"
echo "$root"
