#!/usr/bin/env bash
# Install the app's dependencies into .venv (created if missing) and start the dashboard on
# http://localhost:8501. Extra arguments go to `streamlit run`, e.g. --server.port 8600.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
ensure_venv requirements.txt
exec "$VENV/bin/python" -m streamlit run app.py "$@"
