"""Apply ``cypher/schema.cypher``: uniqueness constraints and indexes, versioned."""

from __future__ import annotations

import re

from fcgraph import SCHEMA_VERSION
from fcgraph.errors import FcgraphError
from fcgraph.graph.connection import Graph
from fcgraph.paths import cypher_dir


def schema_statements() -> list[str]:
    """The statements of ``cypher/schema.cypher`` (comments removed), checked for its version."""
    text = (cypher_dir() / "schema.cypher").read_text()
    match = re.search(r"schema_version:\s*(\d+)", text)
    if not match or int(match.group(1)) != SCHEMA_VERSION:
        raise FcgraphError(f"cypher/schema.cypher is not schema version {SCHEMA_VERSION}")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    return [stmt.strip() for stmt in body.split(";") if stmt.strip()]


def apply_schema(graph: Graph) -> int:
    """Create every constraint and index (idempotent), wait for them online; return the version."""
    for statement in schema_statements():
        graph.write(statement)
    graph.write("CALL db.awaitIndexes(300)")
    return SCHEMA_VERSION
