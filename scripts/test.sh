#!/usr/bin/env bash
# Install the development dependencies into .venv (created if missing) and run the whole test
# suite: unit tests, page tests (AppTest) and browser tests (headless Chromium at
# /usr/bin/chromium, real snapshot in ../shared; both skipped with a reason when absent).
# Extra arguments go to pytest, e.g. -m "not e2e" or -k drivers.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
ensure_venv requirements-dev.txt
exec "$VENV/bin/python" -m pytest "$@"
