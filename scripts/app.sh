#!/usr/bin/env bash
# Start GoldenSignals at http://localhost:8501 (offline, on the built-in simulator by default).
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
# The app's own extras are enough; keep a dev install if the tests already made one.
if grep -q -- '-dev$' "$VENV/.gs-install-stamp" 2>/dev/null; then ensure_venv dev; else ensure_venv ""; fi
cd "$ROOT"
exec "$VENV/bin/python" -m streamlit run app.py "$@"
