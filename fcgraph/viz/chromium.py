"""Find a headless Chromium for the Browser / view tests (Debian's ``chromium`` by default).

The tests drive it with Playwright (``playwright`` from PyPI, the ``dev`` extra) through
``executable_path``, so Playwright's own browser download is never needed.
``FCGRAPH_CHROMIUM`` names another executable.
"""

from __future__ import annotations

import os
import shutil

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]


def find_chromium() -> str | None:
    """The Chromium executable to use, or None when there is none."""
    override = os.environ.get("FCGRAPH_CHROMIUM")
    if override:
        return override if os.path.exists(override) else shutil.which(override)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def missing_reason() -> str | None:
    """Why the Chromium tests cannot run here (None when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if find_chromium() is None:
        return "no chromium executable (apt-get install chromium, or set FCGRAPH_CHROMIUM)"
    return None
