"""fcgraph: functional connectomes of deep spiking networks, stored and queried in Neo4j.

Stages (one sub-package each, data flowing one way): ``models`` -> ``record`` -> ``fc`` ->
``analysis`` -> ``graph`` (Neo4j server, schema, ingest, queries) -> ``viz``. The CLI
(``fcgraph.cli``) is a thin layer over these Python APIs.
"""

from fcgraph.errors import FcgraphError

__version__ = "0.1.0"
SCHEMA_VERSION = 4

__all__ = ["FcgraphError", "SCHEMA_VERSION", "__version__"]
