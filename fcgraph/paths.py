"""Where fcgraph keeps its files: the state folder, and the cypher/ library it ships."""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
RESOURCES_DIR = PACKAGE_DIR / "resources"
#: Where torchvision datasets are kept when neither ``--data-root`` nor ``FCGRAPH_DATA_ROOT`` says.
DATA_ROOT = "~/.cache/fcgraph/datasets"


def cypher_dir() -> Path:
    """The named-query library, schema, Browser style and Bloom perspective: the repository's
    ``cypher/`` folder, which the package ships as ``fcgraph.cypher`` (``FCGRAPH_CYPHER_DIR``
    overrides)."""
    override = os.environ.get("FCGRAPH_CYPHER_DIR")
    return Path(override) if override else Path(str(importlib.resources.files("fcgraph.cypher")))


def state_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The state folder (Neo4j jars, data, logs, credentials).

    Order: the explicit ``override``, then ``FCGRAPH_STATE_DIR``, then ``~/.local/share/fcgraph``.
    """
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get("FCGRAPH_STATE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return Path("~/.local/share/fcgraph").expanduser()


def mirror_dir() -> Path:
    """Where the local mirrors of run folders at URLs live (:mod:`fcgraph.mirror`):
    ``FCGRAPH_MIRROR_DIR``, else ``~/.cache/fcgraph/mirrors``."""
    env = os.environ.get("FCGRAPH_MIRROR_DIR")
    return Path(env or "~/.cache/fcgraph/mirrors").expanduser().resolve()
