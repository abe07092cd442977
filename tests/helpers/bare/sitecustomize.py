"""A bare environment for the NumPy core: with this folder first on PYTHONPATH, Python imports
this module at start-up and importing torch, torchvision, spikingjelly, the Neo4j driver or
Playwright fails as if they were not installed. tests/system/test_bare_fc.py runs
``pytest tests/fc`` so; by hand::

    PYTHONPATH=tests/helpers/bare:. python -m pytest tests/fc
"""

from __future__ import annotations

import sys

BLOCKED = ("torch", "torchvision", "spikingjelly", "neo4j", "neo4j_rust_ext", "playwright")


class _Block:
    """A meta path finder that answers "not installed" for the blocked packages."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: a bare environment)",
                                      name=name)
        return None


sys.meta_path.insert(0, _Block())
