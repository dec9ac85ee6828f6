# Sourced by run.sh and test.sh: `ensure_venv REQUIREMENTS` creates the virtualenv ($VENV, default
# .venv, with $PYTHON, default python3.11 or python3) when it is missing, with a current pip (the
# distribution's may be too old for the pinned wheels), and installs REQUIREMENTS into it.
ensure_venv() {
    local python=${PYTHON:-python3.11}
    command -v "$python" >/dev/null || python=python3
    VENV=${VENV:-.venv}
    if [ ! -x "$VENV/bin/python" ]; then
        "$python" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$1"
}
