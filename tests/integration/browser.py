"""Headless Chromium for the browser tests: Debian's chromium (scripts/setup-browser.sh)
driven by Playwright for Python.

Fixtures (imported by conftest.py):
  chromium        session: a launched Playwright Browser (the test is skipped, saying why, when
                  no Chromium or no Playwright is installed)
  artifacts       function: a directory for the test's screenshots and logs,
                  <repo>/target/test-artifacts/<test name>/ (kept after the run)
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# As the machine's probe starts it: no sandbox (root in CI), and no background connections
# (this network is closed; Chromium would otherwise retry Google's hosts at every start).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """The Chromium to drive: $TESSERA_CHROMIUM, else Debian's."""
    explicit = os.environ.get("TESSERA_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="session")
def chromium():
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium: scripts/setup-browser.sh installs Debian's chromium (needs root and apt-get)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: run scripts/setup-test-env.sh")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts(request) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    d = REPO / "target" / "test-artifacts" / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d
