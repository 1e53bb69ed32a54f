#!/usr/bin/env bash
# Installs the browser of the browser tests: Debian's chromium (driven by Playwright from the
# test venv, which scripts/setup-test-env.sh creates). Idempotent; without apt-get or root it
# only says so, and the browser tests skip with that reason.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [[ -x /usr/bin/chromium ]]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-browser: no apt-get here; install Chromium and set TESSERA_CHROMIUM to run the browser tests" >&2
    exit 0
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
    else
        echo "setup-browser: not root; install the chromium package to run the browser tests" >&2
        exit 0
    fi
fi
echo "setup-browser: installing Debian's chromium"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
