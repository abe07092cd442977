"""Fixtures of the system tests (Neo4j's imported only by the fixtures that need it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers.dask_cluster import Cluster
from tests.helpers.tiny import INGEST, TinyRun

if TYPE_CHECKING:
    import neo4j

    from fcgraph.graph.connection import Graph


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


@pytest.fixture(scope="session")
def reference_dump(driver: neo4j.Driver, graph: Graph, tiny_run: TinyRun, neo4j_env: dict[str, str]) -> dict:
    """The graph of an uninterrupted ``fcgraph ingest`` of the reference run (then removed)."""
    from fcgraph.graph.ingest import delete_run
    from tests.helpers.cli import invoke
    from tests.helpers.graph import graph_dump

    delete_run(graph, tiny_run.run_id)
    invoke(["ingest", str(tiny_run.full), *INGEST], env=neo4j_env)
    dump = graph_dump(graph, tiny_run.run_id)
    delete_run(graph, tiny_run.run_id)
    return dump


@pytest.fixture
def empty_graph(driver: neo4j.Driver, graph: Graph, tiny_run: TinyRun) -> Iterator[None]:
    """The reference run is not in the graph before the test, nor after it."""
    from fcgraph.graph.ingest import delete_run

    delete_run(graph, tiny_run.run_id)
    yield
    delete_run(graph, tiny_run.run_id)
