"""Fixtures shared across the stages' test folders, and the markers that follow from them.

Graph tests talk to the real Neo4j that scripts/test.sh starts; S3 tests, to a real S3-compatible
server (S3Proxy, tests/helpers/s3.py) that the ``s3_store`` fixture starts. Nothing here imports the Neo4j
driver, torch or Playwright at import time: the fixtures that need one import it when used, so
``pytest tests/fc`` runs where only the NumPy core is installed. Helpers that are not fixtures
live in tests/helpers; the fixtures of one folder only, in that folder's conftest.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers.cli import FcgraphCli
from tests.helpers.s3 import S3Store, missing_reason, running_s3proxy
from tests.helpers.tiny import TinyRun, make_tiny_recording, make_tiny_run

if TYPE_CHECKING:
    import neo4j

    from fcgraph.graph.connection import Connection, Graph

#: fixture -> the marker every test that uses it (directly or through another fixture) gets
FIXTURE_MARKERS = {"neo4j_conn": "neo4j", "tiny_recording": "torch", "tiny_run": "torch", "s3_store": "s3"}
#: test folder -> the marker of every test in it
FOLDER_MARKERS = {"models": "torch", "record": "torch"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
        parts = item.path.relative_to(tests).parts if item.path.is_relative_to(tests) else ()
        if len(parts) > 1 and parts[0] in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[parts[0]])


@pytest.fixture(scope="session")
def neo4j_conn() -> Connection:
    """The test server's connection (from NEO4J_* or the state folder's credentials)."""
    from fcgraph.errors import FcgraphError

    try:
        from fcgraph.graph.connection import open_driver, resolve_connection
    except ImportError as exc:  # no Neo4j driver installed
        if os.environ.get("FCGRAPH_REQUIRE_NEO4J"):
            raise
        pytest.skip(f"no Neo4j for graph tests ({exc}); run them through scripts/test.sh")
    conn = resolve_connection()
    try:
        open_driver(conn).close()
    except FcgraphError as exc:
        if os.environ.get("FCGRAPH_REQUIRE_NEO4J"):
            raise
        pytest.skip(f"no Neo4j for graph tests ({exc}); run them through scripts/test.sh")
    return conn


@pytest.fixture(scope="session")
def graph(neo4j_conn: Connection) -> Iterator[Graph]:
    """The test server's database as fcgraph's graph handle, with the schema applied."""
    from fcgraph.graph.connection import Graph
    from fcgraph.graph.schema import apply_schema

    with Graph.open(neo4j_conn) as handle:
        apply_schema(handle)
        yield handle


@pytest.fixture(scope="session")
def driver(graph: Graph) -> neo4j.Driver:
    """The graph handle's driver, for checks written in plain Cypher."""
    return graph.driver


@pytest.fixture
def run_id() -> str:
    """A run_id unique to the test, so tests never see each other's graphs."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def neo4j_env(neo4j_conn: Connection) -> dict[str, str]:
    """The environment variables that point an ``fcgraph`` subprocess at the test server."""
    return {"NEO4J_URI": neo4j_conn.uri, "NEO4J_USER": neo4j_conn.user,
            "NEO4J_PASSWORD": neo4j_conn.password or "", "NEO4J_DATABASE": neo4j_conn.database}


@pytest.fixture(scope="session")
def fcgraph_cli() -> FcgraphCli:
    return FcgraphCli()


@pytest.fixture(scope="session")
def tiny_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording of the `tiny` model (T = 4, 32 digits, two conditions); never written to.
    Built once per session (tests/helpers/tiny.py); skipped where torch is not installed."""
    pytest.importorskip("torch", reason="the tiny recording trains a model with torch")
    return make_tiny_recording(tmp_path_factory.mktemp("fc-tiny"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """The finished reference folders of :class:`TinyRun` (built once per session)."""
    pytest.importorskip("torch", reason="the tiny run trains a model with torch")
    return make_tiny_run(tmp_path_factory.mktemp("tiny-run"))


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Store]:
    """A real S3-compatible server (S3Proxy on 127.0.0.1) with the bucket ``fcgraph-test``, for the
    session. os.environ's AWS_* variables point at it meanwhile (subprocesses such as Dask workers
    inherit them; restored afterwards), so ``fsspec`` opens ``s3://`` URLs with no other argument.
    Skipped without java, S3Proxy's jars (scripts/setup.sh) or s3fs, unless FCGRAPH_REQUIRE_S3=1
    (then failed); the server's log is in the fixture's temporary folder."""
    reason = missing_reason()
    if reason:
        if os.environ.get("FCGRAPH_REQUIRE_S3") == "1":
            pytest.fail(f"FCGRAPH_REQUIRE_S3=1 but {reason}")
        pytest.skip(f"no S3 server for the S3 tests: {reason}")
    with running_s3proxy(tmp_path_factory.mktemp("s3proxy")) as store:
        yield store
