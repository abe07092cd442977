"""Shared fixtures. Graph tests talk to the real Neo4j that scripts/test.sh starts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import neo4j
import pytest

from fcgraph.errors import FcgraphError
from fcgraph.graph.connection import Connection, open_driver, resolve_connection
from fcgraph.graph.schema import apply_schema


@pytest.fixture(scope="session")
def neo4j_conn() -> Connection:
    """The test server's connection (from NEO4J_* or the state folder's credentials)."""
    conn = resolve_connection()
    try:
        open_driver(conn).close()
    except FcgraphError as exc:
        if os.environ.get("FCGRAPH_REQUIRE_NEO4J"):
            raise
        pytest.skip(f"no Neo4j for graph tests ({exc}); run them through scripts/test.sh")
    return conn


@pytest.fixture(scope="session")
def driver(neo4j_conn: Connection) -> Iterator[neo4j.Driver]:
    drv = open_driver(neo4j_conn)
    apply_schema(drv, neo4j_conn.database)
    yield drv
    drv.close()


@pytest.fixture
def run_id() -> str:
    """A run_id unique to the test, so tests never see each other's graphs."""
    return f"t{uuid.uuid4().hex[:12]}"
