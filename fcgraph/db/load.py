"""A run folder into Neo4j by the fastest path the server allows: one rule, used by
`fcgraph ingest` and the demo.

The bulk path (:func:`fcgraph.db.bulk.bulk_ingest`) rebuilds fcgraph's own local store with
``neo4j-admin database import``; it is the only one that reaches the store's import speed, but
it restarts the server and needs its files, so any other server (remote, managed, another
database) is loaded online (:func:`fcgraph.graph.ingest.ingest_run`, batched transactions).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import pandas as pd

from fcgraph.db.bulk import bulk_ingest, is_local_server
from fcgraph.errors import BadArgument
from fcgraph.execution import ProgressFn
from fcgraph.graph.connection import Connection, Graph
from fcgraph.graph.ingest import EDGE_BATCH, EDGE_WORKERS, ingest_run, selected_edge_count
from fcgraph.mirror import local_run_folder

#: ``auto`` takes the bulk path for the local server from this many edges to load; below it,
#: the restart the bulk path needs costs more than the online loader takes.
BULK_MIN_EDGES = 1_000_000


class LoadMethod(StrEnum):
    """How :func:`load_run` writes the edges."""

    auto = "auto"
    online = "online"
    bulk = "bulk"


def choose_method(method: LoadMethod | str, state: Path, conn: Connection, run_dir: str | Path,
                  conditions: list[str] | None = None, top_k: int | None = None,
                  min_bulk_edges: int = BULK_MIN_EDGES) -> LoadMethod:
    """The path a load takes: ``bulk`` or ``online``; ``auto`` is bulk when ``conn`` is the
    local server of ``state`` and the load writes at least ``min_bulk_edges`` edges.

    Raises :class:`~fcgraph.errors.BadArgument` for ``bulk`` on a server that is not the local
    one of ``state``."""
    method = LoadMethod(method)
    local = is_local_server(state, conn)
    if method is LoadMethod.bulk and not local:
        raise BadArgument("--method bulk", f"{conn.uri} is not fcgraph's local server (its store "
                                           "cannot be rebuilt from here); use --method online")
    if method is LoadMethod.auto:
        many = selected_edge_count(run_dir, conditions, top_k) >= min_bulk_edges
        return LoadMethod.bulk if local and many else LoadMethod.online
    return method


def load_run(conn: Connection, state: Path, run_dir: str | Path, *,
             method: LoadMethod | str = LoadMethod.auto, conditions: list[str] | None = None,
             top_k: int | None = None, min_z: float | None = None, replace: bool = False,
             batch_size: int = EDGE_BATCH, workers: int = EDGE_WORKERS, progress: ProgressFn | None = None,
             waiting: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Load ``run_dir`` into the server of ``conn``.

    Parameters
    ----------
    conn : the server (``state``'s local one for the bulk path).
    state : fcgraph's state folder (where the local server lives).
    run_dir : the run folder, or its URL (read through a local mirror:
        :func:`fcgraph.mirror.local_run_folder`).
    method : ``auto`` (bulk for the local server from :data:`BULK_MIN_EDGES` edges, else
        online), ``online`` or ``bulk``.
    conditions, top_k, min_z : which edges to load (default: every edge of every condition).
    replace : swap a run already loaded from other files or options.
    batch_size, workers : edges per transaction and concurrent transactions (online path).
    progress : ``progress(task, done, total)``; ``waiting(line)``: the online loader's notes
        while it waits for another loader of the run.

    Returns
    -------
    pandas.DataFrame
        One row per condition: condition, action, edges, seconds; ``attrs["method"]``: the
        path taken (and ``attrs["timings"]`` for the bulk path).
    """
    with local_run_folder(run_dir, progress=progress) as root:
        return _load_folder(conn, state, root, method, conditions, top_k, min_z, replace, batch_size,
                            workers, progress, waiting)


def _load_folder(conn: Connection, state: Path, run_dir: Path, method: LoadMethod | str,
                 conditions: list[str] | None, top_k: int | None, min_z: float | None, replace: bool,
                 batch_size: int, workers: int, progress: ProgressFn | None,
                 waiting: Callable[[str], None] | None) -> pd.DataFrame:
    """:func:`load_run` of a local folder."""
    chosen = choose_method(method, state, conn, run_dir, conditions, top_k)
    if chosen is LoadMethod.bulk:
        frame = bulk_ingest(state, run_dir, conditions=conditions, top_k=top_k, min_z=min_z,
                            replace=replace, progress=progress)
    else:
        with Graph.open(conn) as graph:
            frame = ingest_run(graph, run_dir, conditions=conditions,
                               replace=replace, batch_size=batch_size, workers=workers,
                               top_k=top_k, min_z=min_z, progress=progress, waiting=waiting)
    frame.attrs["method"] = chosen.value
    return frame
