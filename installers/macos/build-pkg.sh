#!/usr/bin/env bash
# Build dist/chit-agent-<version>.pkg on a Mac from the frozen app bundle (scripts/build-agent.sh
# makes "dist/Chit Agent.app"): pkgbuild for the component, productbuild for the product.
#
# Signed-ready: with CHIT_APP_SIGN_IDENTITY ("Developer ID Application: ...") the app is
# signed with the hardened runtime; with CHIT_PKG_SIGN_IDENTITY ("Developer ID Installer:
# ...") the product is signed; notarize the result with `xcrun notarytool submit --wait`.
set -euo pipefail
cd "$(dirname "$0")/../.."

app="dist/Chit Agent.app"
[ -d "$app" ] || { echo "error: no $app (run scripts/build-agent.sh on this Mac)" >&2; exit 1; }
stamp=$(find "$app" -name chit-agent-version.txt -print -quit)
version=$(tr -d '[:space:]' <"$stamp")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
payload="$work/root"
mkdir -p "$payload/Applications" "$payload/Library/LaunchDaemons" \
  "$payload/Library/LaunchAgents" "$payload/Library/Application Support/Chit"
ditto "$app" "$payload/Applications/Chit Agent.app"
install -m 0644 installers/macos/io.chit.agent.plist "$payload/Library/LaunchDaemons/"
install -m 0644 installers/macos/io.chit.agent.tray.plist "$payload/Library/LaunchAgents/"
install -m 0755 installers/macos/uninstall.sh "$payload/Library/Application Support/Chit/"
if [ -n "${CHIT_APP_SIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp \
    --sign "$CHIT_APP_SIGN_IDENTITY" "$payload/Applications/Chit Agent.app"
fi
pkgbuild --root "$payload" --scripts installers/macos/scripts --identifier io.chit.agent \
  --version "$version" --install-location / --ownership recommended \
  "$work/chit-agent-component.pkg"
sed "s/@VERSION@/$version/" installers/macos/distribution.xml >"$work/distribution.xml"
sign=()
[ -n "${CHIT_PKG_SIGN_IDENTITY:-}" ] && sign=(--sign "$CHIT_PKG_SIGN_IDENTITY")
# ${sign[@]+...}: an empty array is "unbound" to the bash 3.2 macOS ships.
productbuild --distribution "$work/distribution.xml" --package-path "$work" ${sign[@]+"${sign[@]}"} \
  "dist/chit-agent-$version.pkg"
echo "dist/chit-agent-$version.pkg"
