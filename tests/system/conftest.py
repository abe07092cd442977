"""Fixtures of the system tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.dask_cluster import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A ``dask scheduler`` on 127.0.0.1 (add workers with ``add_worker``), stopped after the
    test; its logs in ``tmp_path / "logs"``."""
    logs = tmp_path / "logs"
    logs.mkdir()
    c = Cluster(logs)
    try:
        yield c
    finally:
        c.stop()
