#!/usr/bin/env bash
# Package the frozen agent (scripts/build-agent.sh) for an OS's installer, or as an update.
#
# Usage: scripts/build-agent-package.sh deb|tar [--frozen DIR] [--supervisor DIR]
#                                        [--trusted-root FILE] [--out DIR]
#   deb        dist/chit-agent_<version>_<arch>.deb, built with dpkg-deb from
#              installers/linux/deb/ (unit, udev rule, autostart entry, maintainer scripts),
#              laid out for self-updates (docs/deployment.md "Updates"): the build in
#              /opt/chit-agent/versions/<version>/, the supervisor in /opt/chit-agent/bin/
#   tar        dist/chit-agent-<version>-<platform>.tar.gz: the build as a self-update, for
#              `chit-hub agent-release add` (chit-agent at the archive's top)
#   --frozen   the frozen folder (default: dist/chit-agent)
#   --supervisor  the frozen supervisor's folder (default: chit-agent-supervisor beside
#              --frozen)
#   --trusted-root  the hub repository's metadata/root.json, shipped as
#              /opt/chit-agent/trusted-root.json (default: $CHIT_TRUSTED_ROOT); without it
#              the package installs but its agent never updates itself
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
supervisor=
trusted_root=${CHIT_TRUSTED_ROOT:-}
out=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --frozen) frozen=$2; shift 2 ;;
    --supervisor) supervisor=$2; shift 2 ;;
    --trusted-root) trusted_root=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "error: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$kind" in
  deb|tar) ;;
  *) echo "usage: $0 deb|tar [--frozen DIR] [--supervisor DIR] [--trusted-root FILE] [--out DIR]" >&2
     exit 2 ;;
esac
supervisor=${supervisor:-$(dirname "$frozen")/chit-agent-supervisor}

stamp="$frozen/_internal/chit-agent-version.txt"
if [ ! -x "$frozen/chit-agent" ] || [ ! -f "$stamp" ]; then
  echo "error: no frozen agent in $frozen (run scripts/build-agent.sh first)" >&2
  exit 1
fi
# The agent's own (PEP 440) version names its folder in versions/ and the update archive.
agent_version=$(tr -d '[:space:]' <"$stamp")
mkdir -p "$out"

if [ "$kind" = tar ]; then
  # The platform as the agent names its own (agent.updates.client.this_platform).
  platform="$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m | tr '[:upper:]' '[:lower:]')"
  archive="$out/chit-agent-${agent_version}-${platform}.tar.gz"
  tar -C "$frozen" --sort=name --owner=0 --group=0 --numeric-owner -cf - . \
    | gzip -"${CHIT_TAR_LEVEL:-6}" >"$archive.partial"
  mv "$archive.partial" "$archive"
  echo "$archive"
  exit 0
fi

if [ ! -x "$supervisor/chit-agent-supervisor" ]; then
  echo "error: no frozen supervisor in $supervisor (scripts/build-agent.sh makes it on Linux)" >&2
  exit 1
fi
if [ -n "$trusted_root" ] && ! grep -Eq '"_type": *"root"' "$trusted_root"; then
  echo "error: $trusted_root is not TUF root metadata (the hub's agent-releases/metadata/root.json)" >&2
  exit 1
fi
# PEP 440 pre-releases sort before the release in Debian only with a tilde (1.2~rc1 < 1.2).
version=$(printf '%s' "$agent_version" | sed -E 's/\.?(a|b|rc|dev)([0-9]+)/~\1\2/g')
arch=$(dpkg --print-architecture)
src=installers/linux/deb
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# dpkg owns versions/<this version>/ and bin/; current, update/ and the versions the agent
# installs itself are made by postinst and the agent (docs/deployment.md "Updates").
install -d "$stage/opt/chit-agent/versions" "$stage/usr/bin" "$stage/lib/systemd/system" \
  "$stage/lib/udev/rules.d" "$stage/etc/xdg/autostart" "$stage/usr/share/doc/chit-agent" \
  "$stage/DEBIAN"
cp -a "$frozen" "$stage/opt/chit-agent/versions/$agent_version"
cp -a "$supervisor" "$stage/opt/chit-agent/bin"
if [ -n "$trusted_root" ]; then
  install -m 0644 "$trusted_root" "$stage/opt/chit-agent/trusted-root.json"
else
  echo "warning: no --trusted-root: this package's agent will not update itself" >&2
fi
install -m 0644 "$src/system.env" "$stage/opt/chit-agent/system.env"
install -m 0644 installers/linux/README.md "$stage/opt/chit-agent/README.md"
install -m 0755 "$src/chit-agent" "$stage/usr/bin/chit-agent"
install -m 0644 "$src/chit-agent.service" "$stage/lib/systemd/system/chit-agent.service"
install -m 0644 "$src/60-chit-agent.rules" "$stage/lib/udev/rules.d/60-chit-agent.rules"
install -m 0644 "$src/chit-agent.desktop" "$stage/etc/xdg/autostart/chit-agent.desktop"
install -m 0644 "$src/copyright" "$stage/usr/share/doc/chit-agent/copyright"
for script in postinst prerm postrm; do
  sed -e "s/@AGENT_VERSION@/$agent_version/" "$src/$script" >"$stage/DEBIAN/$script"
  chmod 0755 "$stage/DEBIAN/$script"
done
echo /etc/xdg/autostart/chit-agent.desktop >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
  | xargs -0 md5sum >DEBIAN/md5sums)
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  "$src/control.in" >"$stage/DEBIAN/control"

deb="$out/chit-agent_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${CHIT_DEB_COMPRESSION:-xz}" ${CHIT_DEB_LEVEL:+-z"$CHIT_DEB_LEVEL"} --build "$stage" "$deb" >/dev/null
echo "$deb"
