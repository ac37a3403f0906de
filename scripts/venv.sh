# Sourced by run-hub.sh and test.sh: make .venv and install chit into it only when needed.
#
# An editable install follows source edits by itself; it must be redone only when
# pyproject.toml changes (dependencies, entry points) or for extras not installed yet.
# .venv/.chit-install records "<extras> <sha256 of pyproject.toml>" after a good install.

PYTHON=${PYTHON:-python3}
CHIT_STAMP=.venv/.chit-install
CHIT_INSTALL_LOG=.venv/chit-install.log

# The extras an extra brings along (pyproject.toml: dev = hub, agent, tray, build;
# build = tray; tray = agent).
_chit_expand() {
  local extra
  for extra in ${1//,/ }; do
    case "$extra" in
      dev) echo hub agent tray build dev ;;
      build) echo agent tray build ;;
      tray) echo agent tray ;;
      *) echo "$extra" ;;
    esac
  done | tr ' ' '\n' | sort -u
}

# True when the stamp says every extra in $1 is installed for this pyproject.toml.
_chit_installed() {
  local wanted=$1 sha have missing
  [ -x .venv/bin/python ] && [ -f "$CHIT_STAMP" ] && [ -x .venv/bin/chit-hub ] || return 1
  sha=$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')
  have=$(awk -v sha="$sha" '$2 == sha {print $1}' "$CHIT_STAMP" | tr ',' '\n' | while read -r e; do _chit_expand "$e"; done | sort -u)
  missing=$(comm -23 <(_chit_expand "$wanted") <(echo "$have"))
  [ -z "$missing" ]
}

# Install chit with the extras in $1 (e.g. "hub,agent") unless that is already done.
chit_ensure_installed() {
  local extras=$1 sha
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv ..." >&2
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip >"$CHIT_INSTALL_LOG" 2>&1 || true
  fi
  if _chit_installed "$extras"; then
    return 0
  fi
  echo "Installing chit[$extras] into .venv (first run, or pyproject.toml changed) ..." >&2
  if ! .venv/bin/python -m pip install --quiet -e ".[$extras]" >"$CHIT_INSTALL_LOG" 2>&1; then
    cat "$CHIT_INSTALL_LOG" >&2
    echo "error: installing chit failed (log above, also in $CHIT_INSTALL_LOG)" >&2
    return 1
  fi
  sha=$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')
  echo "$extras $sha" >>"$CHIT_STAMP"
}
