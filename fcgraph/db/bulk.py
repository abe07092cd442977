"""Add a run to fcgraph's local Neo4j at the bulk importer's speed: a store rebuilt beside the
live one from the files of every run it holds, checked, then swapped in.

Community Edition has one database and no incremental import, so :func:`bulk_ingest`:

1. validates the new run folder, and checks that every other run in the graph can be rebuilt
   exactly as it was loaded: its ``Run.source`` folder still holds the files whose checksums
   its ``:Condition`` load keys name (else it refuses, and the online loader,
   :func:`fcgraph.graph.ingest.ingest_run`, is the way to add the run);
2. writes ``neo4j-admin`` CSV files of all those runs (:mod:`fcgraph.graph.import_files`) and
   imports them into a staging home (``neo4j/rebuild``) while the live server keeps serving;
3. stops the server, swaps the stores (journal: :func:`fcgraph.db.server.swap_in_staged`),
   starts it with memory sized for the new store (:func:`~fcgraph.db.server.memory_for_store`), creates the
   indexes, and checks every run's neuron and live-edge counts; a failed check puts the
   previous store back.

A kill before the swap leaves the live store untouched (the next build discards the staging
home); a kill during or after the swap, before the check passed, is undone by the next server
start, which puts the previous store back. A rerun then ends with the expected graph.
"""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fcgraph import faults
from fcgraph.contract import read_manifest
from fcgraph.db import server
from fcgraph.errors import FcgraphError
from fcgraph.execution import ProgressFn
from fcgraph.fc.edge_states import ensure_edge_states
from fcgraph.graph.connection import Connection, Graph, credentials_file, read_credentials
from fcgraph.graph.import_files import IMPORT_PREFIX, write_import_files
from fcgraph.graph.ingest import Selection, load_key, read_analysis
from fcgraph.graph.schema import apply_schema
from fcgraph.validate import validate_run


@dataclass
class PlannedRun:
    """One run of the rebuilt store: where its files are and which of its edges it holds."""

    run_id: str
    source: Path
    conditions: list[str]
    selection: Selection
    expected: dict[str, int] = field(default_factory=dict)  # condition -> live edges


def is_local_server(state: Path, conn: Connection) -> bool:
    """Whether ``conn`` is fcgraph's own local server of ``state`` (its ``neo4j`` database),
    the only server whose store the bulk path can rebuild."""
    local = read_credentials(credentials_file(state))
    return bool(local) and conn.uri == local.get("NEO4J_URI") and conn.database == "neo4j"


@contextmanager
def _bulk_lock(state: Path) -> Iterator[None]:
    """One bulk build per state folder at a time (an OS lock, freed when the process dies)."""
    layout = server.ServerLayout.of(state)
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.root / "bulk.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _graph_runs(graph: Graph) -> list[dict[str, Any]]:
    return [dict(r) for r in graph.read("""
        MATCH (r:Run)
        OPTIONAL MATCH (r)-[:HAS_CONDITION]->(c:Condition) WHERE c.gen > 0
        RETURN r.run_id AS run_id, r.source AS source,
               collect(c {.name, .top_k, .min_z, .load_key, .n_edges}) AS conditions
        ORDER BY run_id""", what="listing the runs").records]


def _plan_other(run: dict[str, Any]) -> PlannedRun:
    """A run already in the graph, if its folder still gives exactly what was loaded."""
    run_id, conds = run["run_id"], run["conditions"]
    why = None
    source = Path(run["source"]) if run.get("source") else None
    selections = {(c.get("top_k"), c.get("min_z")) for c in conds}
    if source is None:
        why = "the graph does not record its folder (loaded before fcgraph recorded it)"
    elif not (source / "manifest.json").exists():
        why = f"its folder {source} is gone"
    elif len(selections) > 1:
        why = "its conditions were loaded with different --top-k / --min-z"
    else:
        manifest = read_manifest(source)
        selection = Selection(*selections.pop()) if conds else Selection()
        states = ensure_edge_states(source, manifest)
        files = manifest.edge_files(source)
        changed = [c["name"] for c in conds if c["name"] not in files
                   or load_key(files[c["name"]], selection, states) != c["load_key"]]
        if manifest.run_id != run_id:
            why = f"{source} now holds run {manifest.run_id!r}"
        elif changed:
            why = f"the files of {', '.join(changed)} in {source} changed since they were loaded"
        else:
            return PlannedRun(run_id, source, [c["name"] for c in conds], selection)
    raise FcgraphError(f"run {run_id!r} in the graph cannot be rebuilt from files: {why}; add "
                       "this run with the online loader (`fcgraph ingest --method online`), or "
                       f"delete run {run_id!r} first (`fcgraph delete-run {run_id}`)")


def _unchanged(run: dict[str, Any] | None, root: Path, conditions: list[str],
               selection: Selection) -> bool:
    """Whether the graph already holds these conditions of the run from these files."""
    if run is None or run.get("source") != str(root.resolve()):
        return False
    loaded = {c["name"]: c["load_key"] for c in run["conditions"]}
    manifest = read_manifest(root)
    states = ensure_edge_states(root, manifest)
    files = manifest.edge_files(root)
    return all(loaded.get(c) == load_key(files[c], selection, states) for c in conditions)


def _export_all(state: Path, runs: list[PlannedRun], progress: ProgressFn | None) -> tuple[Path, list[str]]:
    """CSV files of every planned run; returns their folder and the combined import arguments."""
    csv_root = server.ServerLayout.of(state).root / "rebuild-csv"
    shutil.rmtree(csv_root, ignore_errors=True)
    args: list[str] = []
    for run in runs:
        result = write_import_files(run.source, csv_root / run.run_id, conditions=run.conditions,
                                  top_k=run.selection.top_k, min_z=run.selection.min_z,
                                  progress=progress)
        run.expected = result["loaded"]
        args += [a for a in result["args"] if a.startswith(("--nodes=", "--relationships="))]
    return csv_root, [*IMPORT_PREFIX, f"--report-file={csv_root / 'import.report'}", *args]


def _check(graph: Graph, runs: list[PlannedRun]) -> str | None:
    """None when the store holds every planned run's neurons and edges, else why not.

    Totals from Neo4j's count store (constant time): the importer writes every row or fails,
    so a store with the expected numbers of runs, neurons and FC edges holds all of them."""
    counts = graph.read("""
        CALL () { MATCH (r:Run) RETURN count(r) AS runs }
        CALL () { MATCH (n:Neuron) RETURN count(n) AS neurons }
        CALL () { MATCH ()-[f:FC]->() RETURN count(f) AS edges }
        RETURN runs, neurons, edges""", what="checking the rebuilt store").records[0]
    want = {"runs": len(runs),
            "neurons": sum(la.n_neurons for run in runs for la in read_manifest(run.source).layers),
            "edges": sum(sum(run.expected.values()) for run in runs)}
    wrong = [f"{counts[k]:,} {k} instead of {v:,}" for k, v in want.items() if counts[k] != v]
    return "; ".join(wrong) or None


def bulk_ingest(state: Path, run_dir: str | Path, *, conditions: list[str] | None = None,
                top_k: int | None = None, min_z: float | None = None, replace: bool = False,
                progress: ProgressFn | None = None) -> pd.DataFrame:
    """Load a run folder into the local server of ``state`` through an offline rebuild.

    Parameters
    ----------
    state : fcgraph's state folder (the local server's home is ``state/neo4j``).
    run_dir : the run folder (as for :func:`fcgraph.graph.ingest.ingest_run`).
    conditions, top_k, min_z : which edges to load (default: every edge of every condition).
    replace : allow replacing a run already loaded from other files or options.
    progress : ``progress(task, done, total)`` as the stages go.

    Returns
    -------
    pandas.DataFrame
        One row per condition of the run: condition, action (``loaded`` / ``unchanged``),
        edges, seconds (the whole rebuild's, on every row); ``attrs["timings"]``: seconds per
        stage (export, import, restart, check, indexes).
    """
    t0 = time.perf_counter()
    root = Path(run_dir)
    selection = Selection(top_k=top_k, min_z=min_z)
    manifest = read_manifest(root)
    chosen = list(validate_run(root, manifest, conditions))
    read_analysis(root, manifest)  # a damaged analysis is refused before anything is built
    ensure_edge_states(root, manifest, progress=progress)
    with _bulk_lock(state):
        if server.unfinished_swap(state):  # a killed bulk load's unchecked store: the previous
            server.stop(state)
        server.start(state)
        with Graph.open(server.local_connection(state)) as graph:
            held = {r["run_id"]: r for r in _graph_runs(graph)}
        mine = held.pop(manifest.run_id, None)
        if _unchanged(mine, root, chosen, selection):
            return pd.DataFrame([{"condition": c, "action": "unchanged", "edges": n, "seconds": 0.0}
                                 for c, n in ((c["name"], c["n_edges"]) for c in mine["conditions"])
                                 if c in chosen], columns=["condition", "action", "edges", "seconds"])
        if mine is not None and mine["conditions"] and not replace:
            raise FcgraphError(f"run {manifest.run_id!r} is already loaded from other files or "
                               "options; use --replace to swap them")
        runs = [_plan_other(run) for run in held.values()]
        runs.append(PlannedRun(manifest.run_id, root.resolve(), chosen, selection))
        timings: dict[str, float] = {}
        mark = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            timings[name] = round(now - mark, 3)
            mark = now

        csv_root, args = _export_all(state, runs, progress)
        lap("export")
        faults.checkpoint("bulk.exported")
        server.import_staged(state, args, csv_root)
        lap("import")
        faults.checkpoint("bulk.imported")
        store = server.staging_layout(state).data
        heap, pagecache = server.memory_for_store(server.folder_bytes(store))
        server.stop(state)
        server.swap_in_staged(state)
        faults.checkpoint("bulk.swapped")
        server.start(state, heap=heap, pagecache=pagecache)
        lap("restart")
        with Graph.open(server.local_connection(state)) as graph:
            problem = _check(graph, runs)
            lap("check")
            if problem is None:
                apply_schema(graph)
                graph.write("CALL db.awaitIndexes(3600)")
                lap("indexes")
        if problem is not None:
            server.stop(state)
            server.finish_swap(state, keep_new=False)
            server.start(state)
            raise FcgraphError(f"the rebuilt store failed its check ({problem}); the previous "
                               "store is back in place")
        server.finish_swap(state, keep_new=True)
        shutil.rmtree(csv_root, ignore_errors=True)
    seconds = round(time.perf_counter() - t0, 3)
    frame = pd.DataFrame([{"condition": c, "action": "loaded", "edges": runs[-1].expected[c],
                           "seconds": seconds} for c in chosen],
                         columns=["condition", "action", "edges", "seconds"])
    frame.attrs["timings"] = timings  # seconds per stage: export, import, restart, check, indexes
    return frame
