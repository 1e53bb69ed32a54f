#!/usr/bin/env bash
# Creates (or refreshes) the Python virtualenv of the integration tests at <repo>/.venv
# with the pinned packages of tests/integration/requirements.txt. Idempotent: when the
# stamp file matches the requirements and the interpreter, it does nothing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
req="$repo/tests/integration/requirements.txt"
stamp="$venv/.tessera-test-env.stamp"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
    echo "setup-test-env: $python not found" >&2
    exit 1
fi

# Stamp: hash of the requirements file plus the interpreter version.
want="$( { cat "$req"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup-test-env: creating $venv"
    if ! "$python" -m venv "$venv"; then
        # Debian/Ubuntu system pythons need the venv package.
        if command -v apt-get >/dev/null 2>&1; then
            apt-get update -qq && apt-get install -y -qq python3-venv
            rm -rf "$venv"
            "$python" -m venv "$venv"
        else
            exit 1
        fi
    fi
fi

echo "setup-test-env: installing $req"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
