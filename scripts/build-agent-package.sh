#!/usr/bin/env bash
# Package the frozen agent (scripts/build-agent.sh) for an OS's installer.
#
# Usage: scripts/build-agent-package.sh deb [--frozen DIR] [--out DIR]
#   deb        dist/chit-agent_<version>_<arch>.deb, built with dpkg-deb from
#              installers/linux/deb/ (unit, udev rule, autostart entry, maintainer scripts)
#   --frozen   the frozen folder (default: dist/chit-agent)
#   --out      where the package goes (default: dist)
# The version is the frozen build's own (its chit-agent-version.txt), so the package and
# `chit-agent --version` always agree. CHIT_DEB_COMPRESSION and CHIT_DEB_LEVEL pick dpkg-deb's -Z (default xz) and -z.
# The Windows installer is built by scripts/build-agent.ps1, the macOS one by
# installers/macos/build-pkg.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:-}
[ $# -gt 0 ] && shift
frozen=dist/chit-agent
out=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --frozen) frozen=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "error: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$kind" in
  deb) ;;
  *) echo "usage: $0 deb [--frozen DIR] [--out DIR]" >&2; exit 2 ;;
esac

stamp="$frozen/_internal/chit-agent-version.txt"
if [ ! -x "$frozen/chit-agent" ] || [ ! -f "$stamp" ]; then
  echo "error: no frozen agent in $frozen (run scripts/build-agent.sh first)" >&2
  exit 1
fi
# PEP 440 pre-releases sort before the release in Debian only with a tilde (1.2~rc1 < 1.2).
version=$(tr -d '[:space:]' <"$stamp" | sed -E 's/\.?(a|b|rc|dev)([0-9]+)/~\1\2/g')
arch=$(dpkg --print-architecture)
src=installers/linux/deb
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

install -d "$stage/opt" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/lib/udev/rules.d" \
  "$stage/etc/xdg/autostart" "$stage/usr/share/doc/chit-agent" "$stage/DEBIAN"
cp -a "$frozen" "$stage/opt/chit-agent"
install -m 0644 "$src/system.env" "$stage/opt/chit-agent/system.env"
install -m 0644 installers/linux/README.md "$stage/opt/chit-agent/README.md"
install -m 0755 "$src/chit-agent" "$stage/usr/bin/chit-agent"
install -m 0644 "$src/chit-agent.service" "$stage/lib/systemd/system/chit-agent.service"
install -m 0644 "$src/60-chit-agent.rules" "$stage/lib/udev/rules.d/60-chit-agent.rules"
install -m 0644 "$src/chit-agent.desktop" "$stage/etc/xdg/autostart/chit-agent.desktop"
install -m 0644 "$src/copyright" "$stage/usr/share/doc/chit-agent/copyright"
for script in postinst prerm postrm; do
  install -m 0755 "$src/$script" "$stage/DEBIAN/$script"
done
echo /etc/xdg/autostart/chit-agent.desktop >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
  | xargs -0 md5sum >DEBIAN/md5sums)
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  "$src/control.in" >"$stage/DEBIAN/control"

mkdir -p "$out"
deb="$out/chit-agent_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${CHIT_DEB_COMPRESSION:-xz}" ${CHIT_DEB_LEVEL:+-z"$CHIT_DEB_LEVEL"} --build "$stage" "$deb" >/dev/null
echo "$deb"
