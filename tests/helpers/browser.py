"""Headless Chromium for the Browser and offline-view tests: where screenshots go, and the skip
(or, under FCGRAPH_REQUIRE_BROWSER=1, the failure) when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fcgraph.viz.chromium import missing_reason

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def require_chromium() -> None:
    """Skip without Chromium / Playwright, unless FCGRAPH_REQUIRE_BROWSER=1 (then fail)."""
    reason = missing_reason()
    if reason:
        if os.environ.get("FCGRAPH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FCGRAPH_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
