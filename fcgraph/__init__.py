"""fcgraph: functional connectomes of deep spiking networks, stored and queried in Neo4j.

Stages (one sub-package each, data flowing one way): ``models`` -> ``record`` -> ``fc`` ->
``analysis`` -> ``graph`` (Neo4j server, schema, ingest, queries) -> ``viz``. The CLI
(``fcgraph.cli``) is a thin layer over these Python APIs; :class:`Client` and
:class:`NeuronCriteria` (from :mod:`fcgraph.client`, loaded on first use) are the API to the
connectome in Neo4j.
"""

from typing import Any

from fcgraph.errors import FcgraphError

__version__ = "0.1.0"
SCHEMA_VERSION = 4

#: names loaded on first use, so that ``import fcgraph`` needs neither the driver nor pandas
_LAZY = {"Client": "fcgraph.client", "NeuronCriteria": "fcgraph.client"}

__all__ = ["Client", "FcgraphError", "NeuronCriteria", "SCHEMA_VERSION", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fcgraph' has no attribute {name!r}")
