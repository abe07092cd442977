"""Plain helpers shared by test modules: reference implementations, hand-written runs, the
``fcgraph`` command. Fixtures live in the ``conftest.py`` files instead; a test module imports
from here, never from another test module or from a conftest.

Each module imports only what its own stage needs (``fc_reference``: NumPy; ``graph``: the
Neo4j driver), so importing one never drags in another stage's dependencies.
"""
