#!/usr/bin/env bash
# Install the development dependencies into .venv (created if missing) and run the whole test
# suite: unit tests, page tests (AppTest) and browser tests (headless Chromium at
# /usr/bin/chromium, real snapshot in ../shared).
#
# Without arguments, two passes: first everything but the browser tests, spread over the
# machine's cores by pytest-xdist (each worker builds its own session fixtures; on two cores the
# pass takes a little more than half the time), then the browser tests one at a time, because
# their deadlines assume a server and a browser that do not compete with other tests for the CPU.
# With arguments, one ordinary pytest run with them, e.g. -m "not e2e" or -k drivers.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
ensure_venv requirements-dev.txt
if [ "$#" -gt 0 ]; then
    exec "$VENV/bin/python" -m pytest "$@"
fi
status=0
"$VENV/bin/python" -m pytest -m "not e2e" --numprocesses auto --maxprocesses 4 || status=$?
"$VENV/bin/python" -m pytest -m e2e || status=$?
exit "$status"
