"""Apply ``cypher/schema.cypher``: uniqueness constraints and indexes, versioned."""

from __future__ import annotations

import re

import neo4j

from fcgraph import SCHEMA_VERSION
from fcgraph.errors import FcgraphError
from fcgraph.paths import cypher_dir


def schema_statements() -> list[str]:
    """The statements of ``cypher/schema.cypher`` (comments removed), checked for its version."""
    text = (cypher_dir() / "schema.cypher").read_text()
    match = re.search(r"schema_version:\s*(\d+)", text)
    if not match or int(match.group(1)) != SCHEMA_VERSION:
        raise FcgraphError(f"cypher/schema.cypher is not schema version {SCHEMA_VERSION}")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    return [stmt.strip() for stmt in body.split(";") if stmt.strip()]


def apply_schema(driver: neo4j.Driver, database: str = "neo4j") -> int:
    """Create every constraint and index (idempotent), wait for them online; return the version."""
    for statement in schema_statements():
        driver.execute_query(statement, database_=database)
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)
    return SCHEMA_VERSION
