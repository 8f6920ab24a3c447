# Sourced by app.sh and test.sh: create .venv and install the project into it when needed.
# Usage: ensure_venv "extras"   (e.g. "" or "dev")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

ensure_venv() {
  local extras="$1" py="${PYTHON:-python3}"
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "GoldenSignals needs Python 3.11 or newer ('$py' is $("$py" --version 2>&1))." >&2
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating the virtual environment in .venv ..."
    "$py" -m venv "$VENV"
  fi
  local spec="." stamp
  [ -n "$extras" ] && spec=".[$extras]"
  stamp="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$extras"
  if [ "$(cat "$VENV/.gs-install-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "Installing GoldenSignals and its dependencies ($spec) ..."
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    (cd "$ROOT" && "$VENV/bin/python" -m pip install --quiet -e "$spec")
    echo "$stamp" > "$VENV/.gs-install-stamp"
  fi
}
