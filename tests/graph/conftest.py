"""Fixtures of the graph tests (the Neo4j ones, ``driver`` and the rest, are in tests/conftest.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.helpers.known_states import write_known_run


@pytest.fixture
def known_run(tmp_path: Path):
    """The hand-written run of tests/helpers/known_states.py, under a run_id of its own."""
    return write_known_run(tmp_path / "known", f"s{uuid.uuid4().hex[:10]}")
