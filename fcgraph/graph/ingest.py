"""Load a run folder into Neo4j: batched, parameterised ``UNWIND``; idempotent, resumable, atomic.

How the guarantees are kept:

- **Validation first**: the whole folder is checked (:mod:`fcgraph.validate`) before the
  first write.
- **Idempotent**: nodes are MERGEd on their uids. A condition's edges carry the load generation
  ``gen``; its ``:Condition`` node records the live ``gen`` and the ``load_key`` (SHA-256 of the
  edge file plus the selection options). Ingesting the same file with the same options again is
  a no-op; a different file for a loaded condition is refused unless ``replace=True``.
- **Resumable / crash-safe**: every batch is one transaction that creates its edges *and*
  advances ``Condition.loading_rows`` (guarded by its expected old value). A killed ingest leaves
  only whole batches; the rerun resumes after the last committed one.
- **Atomic replace**: new edges are written under a new ``gen`` that no query sees (queries
  filter ``r.gen = c.gen``); one small transaction then switches ``c.gen``; the old
  generation's edges are deleted afterwards in batches (also resumed by any later ingest).
- **One at a time**: an ingest (or delete) of a run holds the run's lock (:func:`run_lock`);
  a second ingest of the same run waits for it, then finds its work done.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fcgraph import SCHEMA_VERSION, faults
from fcgraph.contract import RunManifest, neuron_uid, read_manifest
from fcgraph.errors import FcgraphError, at_least, number_in
from fcgraph.execution import ProgressFn
from fcgraph.fc.edge_states import STATE_CODES, EdgeStates, ensure_edge_states, tested_neurons
from fcgraph.graph.connection import Graph
from fcgraph.graph.schema import apply_schema
from fcgraph.graph.states import ingest_states
from fcgraph.io import read_json_object, sha256_file
from fcgraph.run_folder import RunFolder
from fcgraph.validate import validate_run

NEURON_BATCH = 20_000
#: The online loader's defaults: edges per transaction, concurrent transactions. 5,000 edges
#: loaded faster than 20,000 or 50,000 in both runs of benchmarks/ingest.py (29.6 against
#: 27.3 and 26.0 k edges/s; 41.1 against 33.0 and 30.8); a third transaction does not help on
#: 2 cores.
EDGE_BATCH = 5_000
EDGE_WORKERS = 2
DELETE_BATCH = 20_000

_EDGE_PROPS = ("value", "z", "cofire", "null_mean", "null_sd")


@dataclass(frozen=True)
class Selection:
    """Which significant edges of a table go into the graph (all of them by default)."""

    top_k: int | None = None
    min_z: float | None = None

    def __post_init__(self) -> None:
        if self.top_k is not None:
            at_least(self.top_k, 1, "--top-k")
        if self.min_z is not None:
            number_in(self.min_z, "--min-z")

    def key(self) -> str:
        return f"top_k={self.top_k};min_z={self.min_z}"


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Nested parameters -> flat Neo4j-storable properties (``fc_null``, ``fc_n_shifts`` ...)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}_{key}" if prefix else str(key), sub, out)
    elif value is None:
        return
    elif isinstance(value, bool | int | float | str) or _homogeneous_list(value):
        out[prefix] = value
    else:
        out[prefix] = json.dumps(value, sort_keys=True)


def _homogeneous_list(value: Any) -> bool:
    scalar = (bool, int, float, str)
    return isinstance(value, list) and all(isinstance(v, scalar) for v in value) \
        and len({type(v) for v in value}) <= 1


def run_properties(manifest: RunManifest, root: Path) -> dict[str, Any]:
    """Properties of the ``:Run`` node: ids, sizes, the fc parameters (prefixed ``fc_``) and
    ``source``, the run folder's absolute path (what a bulk rebuild reads the run from)."""
    props: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "T": manifest.T,
                             "source": str(Path(root).resolve()),
                             "n_images": manifest.n_images,
                             "conditions": [c.name for c in manifest.conditions],
                             "layers": manifest.layer_names}
    _flatten("fc", manifest.fc.get("parameters", {}), props)
    return {k: v for k, v in props.items() if v is not None}


@contextmanager
def run_lock(graph: Graph, run_id: str, *,
             waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold ``run_id``'s lock while the block runs: one ingest or delete of a run at a time.

    The lock is the write lock on an ``(:IngestLock {run})`` node (unique, see the schema), taken
    by a transaction left open for the block and then rolled back, so the node is never
    committed. Another holder makes this wait; ``waiting(message)`` is called once when the wait
    passes a second. A killed holder's transaction ends with its connection, freeing the lock.
    """
    message = f"waiting for another ingest or delete of run {run_id!r} to finish"
    timer = threading.Timer(1.0, waiting, args=(message,)) if waiting else None
    with graph.session() as session:
        tx = session.begin_transaction(metadata={"fcgraph": f"lock of run {run_id}"})
        try:
            if timer:
                timer.start()
            try:
                tx.run("MERGE (l:IngestLock {run: $run_id}) SET l.held = true", run_id=run_id).consume()
            finally:
                if timer:
                    timer.cancel()
            yield
        finally:
            with suppress(neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError):
                tx.rollback()


def _write(graph: Graph, query: str, **params: Any) -> list[neo4j.Record]:
    return graph.write(query, params).records


def _auto(graph: Graph, query: str, **params: Any) -> None:
    """An auto-commit query (needed for ``CALL {...} IN TRANSACTIONS``)."""
    with graph.session() as session:
        session.run(query, params).consume()


def _ingest_structure(graph: Graph, manifest: RunManifest,
                      root: Path) -> None:
    run_id = manifest.run_id
    _write(graph,
           "MERGE (r:Run {run_id: $run_id}) ON CREATE SET r.created_at = datetime() SET r += $props",
           run_id=run_id, props=run_properties(manifest, root))
    layers = [{"uid": f"{run_id}/{la.name}", "name": la.name, "order": la.order,
               "shape": list(la.shape), "n_neurons": la.n_neurons,
               "feeds_from": list(la.feeds_from)} for la in manifest.layers]
    _write(graph, """
        MATCH (r:Run {run_id: $run_id})
        UNWIND $layers AS l
        MERGE (x:Layer {uid: l.uid})
        SET x.run_id = $run_id, x.name = l.name, x.order = l.order, x.shape = l.shape,
            x.n_neurons = l.n_neurons
        MERGE (r)-[:HAS_LAYER]->(x)""", run_id=run_id, layers=layers)
    feeds = manifest.allowed_pairs()
    _write(graph, """
        UNWIND $pairs AS p
        MATCH (a:Layer {uid: $run_id + '/' + p[0]}), (b:Layer {uid: $run_id + '/' + p[1]})
        MERGE (a)-[:FEEDS]->(b)""", run_id=run_id, pairs=sorted(feeds))
    conditions = [{"uid": f"{run_id}/{c.name}", "name": c.name, "kind": c.kind, "level": c.level}
                  for c in manifest.conditions]
    _write(graph, """
        MATCH (r:Run {run_id: $run_id})
        UNWIND $conditions AS c
        MERGE (x:Condition {uid: c.uid})
        ON CREATE SET x.gen = 0, x.n_edges = 0
        SET x.run_id = $run_id, x.name = c.name, x.kind = c.kind, x.level = c.level
        MERGE (r)-[:HAS_CONDITION]->(x)""", run_id=run_id, conditions=conditions)


def neuron_stats(root: Path, manifest: RunManifest) -> dict[str, pd.DataFrame]:
    """Per layer, the neuron table rows of the reference condition (clean, else the first)."""
    rel = manifest.fc.get("neurons")
    if not rel:
        return {}
    table = pq.read_table(root / rel)
    if "condition" in table.column_names:
        names = pc.unique(table.column("condition")).to_pylist()
        ref = "clean" if "clean" in names else sorted(names)[0]
        table = table.filter(pc.equal(table.column("condition"), ref))
    df = table.to_pandas()
    return {layer: part.set_index("idx") for layer, part in df.groupby("layer")}


def silent_lists(tested: dict[str, np.ndarray], flat: np.ndarray) -> list[list[str] | None]:
    """Per neuron (flat indices ``flat``, see :func:`~fcgraph.fc.edge_states.tested_neurons`),
    the conditions fc did not test it under (too few spikes), or None when it was tested in all."""
    names = list(tested)
    silent = np.stack([~tested[c][flat] for c in names], axis=1) if names else np.zeros((0, 0))
    out: list[list[str] | None] = [None] * len(flat)
    for row in np.flatnonzero(silent.any(axis=1)) if names else ():
        out[row] = [names[k] for k in np.flatnonzero(silent[row])]
    return out


def _ingest_neurons(graph: Graph, root: Path, manifest: RunManifest,
                    progress: ProgressFn | None) -> int:
    """MERGE one node per neuron of every layer (stats from the neuron table where given, and
    ``silent_in``: the conditions fc did not test the neuron under)."""
    stats = neuron_stats(root, manifest)
    tested = tested_neurons(root, manifest)
    total = sum(la.n_neurons for la in manifest.layers)
    done = 0
    offset = 0
    for layer in manifest.layers:
        idx = np.arange(layer.n_neurons, dtype=np.int64)
        channel, y, x = (np.asarray(v, dtype=np.int64) for v in layer.position(idx))
        rate = np.full(layer.n_neurons, np.nan)
        count = np.full(layer.n_neurons, -1, dtype=np.int64)
        if layer.name in stats:
            part = stats[layer.name]
            rate[part.index.to_numpy()] = part["rate"].to_numpy()
            count[part.index.to_numpy()] = part["spike_count"].to_numpy()
        for start in range(0, layer.n_neurons, NEURON_BATCH):
            sl = slice(start, start + NEURON_BATCH)
            _write(graph, """
                UNWIND range(0, size($idx) - 1) AS i
                MERGE (n:Neuron {uid: $prefix + toString($idx[i])})
                SET n:$($order_label), n.run_id = $run_id, n.layer = $layer, n.layer_order = $order,
                    n.idx = $idx[i], n.channel = $channel[i], n.y = $y[i], n.x = $x[i],
                    n.rate = CASE WHEN $rate[i] >= 0 THEN $rate[i] END,
                    n.spike_count = CASE WHEN $count[i] >= 0 THEN $count[i] END,
                    n.silent_in = $silent[i]""",
                   prefix=f"{manifest.run_id}/{layer.name}/", run_id=manifest.run_id,
                   layer=layer.name, order=layer.order, order_label=f"L{layer.order}", idx=idx[sl].tolist(),
                   channel=channel[sl].tolist(), y=y[sl].tolist(), x=x[sl].tolist(),
                   rate=np.nan_to_num(rate[sl], nan=-1.0).tolist(), count=count[sl].tolist(),
                   silent=silent_lists(tested, offset + idx[sl]))
            done += len(idx[sl])
            if progress:
                progress("neurons", done, total)
        offset += layer.n_neurons
    return total


def _node_ids(graph: Graph, manifest: RunManifest) -> dict[str, np.ndarray]:
    """Per layer, the internal node id of each neuron index (for fast id-seek edge creation)."""
    ids: dict[str, np.ndarray] = {}
    for layer in manifest.layers:
        records = graph.read(
            "MATCH (n:Neuron {run_id: $run_id, layer: $layer}) RETURN n.idx AS idx, id(n) AS id",
            {"run_id": manifest.run_id, "layer": layer.name}, what="reading neuron ids").records
        arr = np.full(layer.n_neurons, -1, dtype=np.int64)
        for rec in records:
            arr[rec["idx"]] = rec["id"]
        if (arr < 0).any():
            raise FcgraphError(f"layer {layer.name!r} of run {manifest.run_id!r} is missing "
                               "neuron nodes; rerun the ingest")
        ids[layer.name] = arr
    return ids


def selected_rows(path: Path, selection: Selection) -> np.ndarray | None:
    """Boolean mask of the rows to load, or None for all rows."""
    if selection.top_k is None and selection.min_z is None:
        return None
    table = pq.read_table(path, columns=["post_layer", "post_idx", "z"])
    z = table.column("z").to_numpy()
    keep = np.ones(len(z), dtype=bool) if selection.min_z is None else z >= selection.min_z
    if selection.top_k is not None:
        rows = np.flatnonzero(keep)
        layer = pc.dictionary_encode(table.column("post_layer")).combine_chunks().indices
        key = (layer.to_numpy().astype(np.int64)[rows] << 32) | table.column("post_idx").to_numpy()[rows]
        order = np.lexsort((-z[rows], key))  # by post neuron, then z descending; stable on ties
        sorted_key = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        rank = np.arange(order.size) - np.repeat(starts, np.diff(np.r_[starts, order.size]))
        keep = np.zeros(len(z), dtype=bool)
        keep[rows[order[rank < selection.top_k]]] = True
    return keep


def selected_edge_count(run_dir: str | Path, conditions: list[str] | None = None,
                        top_k: int | None = None) -> int:
    """An upper bound of the edges a load of these conditions (default: all) writes, from the
    tables' footers (``top_k``: at most that many per post neuron), without reading the rows.
    A table that cannot be read counts 0 here: the loader's validation then names it."""
    root = Path(run_dir)
    manifest = read_manifest(root)
    per_table = top_k * sum(la.n_neurons for la in manifest.layers) if top_k else None
    total = 0
    for name, path in manifest.edge_files(root).items():
        if conditions and name not in conditions:
            continue
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowException, OSError):
            continue
        total += min(rows, per_table) if per_table is not None else rows
    return total


def edge_batches(path: Path, mask: np.ndarray | None,
                 batch_size: int) -> Iterator[tuple[int, pa.RecordBatch, np.ndarray]]:
    """(j, batch, rows) for batch j = selected rows [j*batch_size, (j+1)*batch_size), in file
    order; ``rows``: int64, their row numbers in the table."""
    selected = np.flatnonzero(mask) if mask is not None else None
    for j, batch in _plain_batches(path, mask, batch_size):
        start = j * batch_size
        rows = (selected[start:start + batch.num_rows] if selected is not None
                else np.arange(start, start + batch.num_rows))
        yield j, batch, rows


def _plain_batches(path: Path, mask: np.ndarray | None,
                   batch_size: int) -> Iterator[tuple[int, pa.RecordBatch]]:
    pf = pq.ParquetFile(path)
    offset = 0  # file row offset of the current file batch
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    j = 0
    for batch in pf.iter_batches(batch_size=max(batch_size, 65536)):
        if mask is not None:
            file_rows = batch.num_rows
            batch = batch.filter(pa.array(mask[offset:offset + file_rows]))
            offset += file_rows
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= batch_size:
            table = pa.Table.from_batches(pending).combine_chunks()
            yield j, table.slice(0, batch_size).combine_chunks().to_batches()[0]
            j += 1
            rest = table.slice(batch_size)
            pending = rest.to_batches() if rest.num_rows else []
            pending_rows = rest.num_rows
    if pending_rows:
        yield j, pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


_CREATE_EDGES = """
CREATE (:IngestBatch {uid: $load + '#' + toString($batch), load: $load, batch: $batch})
WITH 1 AS _
UNWIND range(0, size($a) - 1) AS i
MATCH (a) WHERE id(a) = $a[i]
MATCH (b) WHERE id(b) = $b[i]
CREATE (a)-[:FC {condition: $condition, gen: $gen,
                 value: $value[i], z: $z[i], cofire: $cofire[i],
                 null_mean: $null_mean[i], null_sd: $null_sd[i],
                 weakened_in: $weakened[i], silenced_in: $silenced[i]}]->(b)
RETURN count(*) AS created
"""
_CREATE_EDGES_PQ = _CREATE_EDGES.replace("null_sd: $null_sd[i],",
                                         "null_sd: $null_sd[i], p: $p[i], q: $q[i],")


def state_patterns(codes: dict[str, np.ndarray], rows: np.ndarray
                   ) -> tuple[np.ndarray, list[list[str] | None], list[list[str] | None]]:
    """The distinct state patterns of the edges at table rows ``rows``, from the states codes
    of their condition (:meth:`~fcgraph.fc.edge_states.EdgeStates.codes`): int64 (len(rows),)
    index of each edge's pattern, and per pattern ``weakened_in`` and ``silenced_in`` (the
    conditions under which the edge is weakened / silenced; None when there is none)."""
    if not codes:
        return np.zeros(len(rows), np.int64), [None], [None]
    names = list(codes)
    if len(names) > 39:
        raise FcgraphError(f"{len(names) + 1} conditions in one run: at most 40 are supported")
    pattern = np.zeros(len(rows), dtype=np.int64)  # the row's codes as one base-3 number
    for name in names:
        pattern = pattern * 3 + codes[name][rows]
    unique, inverse = np.unique(pattern, return_inverse=True)
    out: tuple[list[list[str] | None], list[list[str] | None]] = ([], [])
    for target, code in zip(out, (STATE_CODES["weakened"], STATE_CODES["silenced"]), strict=True):
        for value in unique.tolist():
            digits = [(value // 3 ** (len(names) - 1 - k)) % 3 for k in range(len(names))]
            hit = [name for name, d in zip(names, digits, strict=True) if d == code]
            target.append(hit or None)
    return inverse.astype(np.int64), *out


def state_lists(codes: dict[str, np.ndarray],
                rows: np.ndarray) -> tuple[list[list[str] | None], list[list[str] | None]]:
    """``weakened_in`` and ``silenced_in`` of the edges at table rows ``rows``, one list (or
    None) per edge (:func:`state_patterns`)."""
    inverse, weakened, silenced = state_patterns(codes, rows)
    at = inverse.tolist()
    return [weakened[i] for i in at], [silenced[i] for i in at]


def _batch_params(batch: pa.RecordBatch, ids: dict[str, np.ndarray], codes: dict[str, np.ndarray],
                  rows: np.ndarray) -> dict[str, Any]:
    """Columnar parameters of one batch (table rows ``rows``): node ids of both ends, the edge
    statistics and the edge's states under the other conditions (:func:`state_lists`)."""
    params: dict[str, Any] = {}
    params["weakened"], params["silenced"] = state_lists(codes, rows)
    for side, key in (("pre", "a"), ("post", "b")):
        layers = batch.column(f"{side}_layer")
        idx = batch.column(f"{side}_idx").to_numpy()
        out = np.empty(len(idx), dtype=np.int64)
        encoded = pc.dictionary_encode(layers)
        codes = encoded.indices.to_numpy()
        for code, name in enumerate(encoded.dictionary.to_pylist()):
            sel = codes == code
            out[sel] = ids[name][idx[sel]]
        params[key] = out.tolist()
    for name in (*_EDGE_PROPS, "p", "q"):
        if name in batch.schema.names:
            params[name] = batch.column(name).to_numpy().tolist()
    if "p" in params and "q" not in params:
        params["q"] = [None] * batch.num_rows
    return params


def _cleanup_stale(graph: Graph, run_id: str, condition: str) -> None:
    """Delete edges of this condition whose gen is neither live nor being loaded."""
    _auto(graph, """
        MATCH (c:Condition {uid: $cuid})
        MATCH (n:Neuron {run_id: $run_id})-[r:FC]->()
        WHERE r.condition = $condition AND r.gen <> c.gen
          AND (c.loading_gen IS NULL OR r.gen <> c.loading_gen)
        CALL (r) { DELETE r } IN TRANSACTIONS OF $n ROWS""",
          cuid=f"{run_id}/{condition}", run_id=run_id, condition=condition, n=DELETE_BATCH)


def _drop_batch_marks(graph: Graph, load: str) -> None:
    _auto(graph, """
        MATCH (b:IngestBatch) WHERE b.load STARTS WITH $load
        CALL (b) { DELETE b } IN TRANSACTIONS OF $n ROWS""", load=load, n=DELETE_BATCH)


def _done_batches(graph: Graph, load: str) -> set[int]:
    records = _write(graph, "MATCH (b:IngestBatch {load: $load}) RETURN b.batch AS j", load=load)
    return {int(r["j"]) for r in records}


def _next_gen(graph: Graph) -> int:
    """A generation number unique in the database (so gen alone names a condition's load)."""
    return int(_write(graph, """
        MERGE (s:FcgraphCounter {name: 'gen'})
        SET s.value = coalesce(s.value, 0) + 1
        RETURN s.value AS gen""")[0]["gen"])


def load_key(edge_file: Path, selection: Selection, states: EdgeStates) -> str:
    """A condition's ``load_key``: its edge table's SHA-256, the selection and the edge states'
    inputs (another condition's new edges change this one's ``weakened_in`` / ``silenced_in``)."""
    return f"{sha256_file(edge_file)};{selection.key()};states={states.key[:16]}"


def ingest_condition(graph: Graph, root: Path, manifest: RunManifest, condition: str, *,
                     replace: bool = False, batch_size: int = EDGE_BATCH,
                     workers: int = EDGE_WORKERS, selection: Selection = Selection(),
                     ids: dict[str, np.ndarray] | None = None,
                     states: EdgeStates | None = None,
                     progress: ProgressFn | None = None) -> dict[str, Any]:
    """Load one condition's edge table (structure and neurons must already be in the graph).

    ``workers`` transactions run concurrently; ``states``: the run's edge states (computed
    when None). Returns a summary: condition, action (loaded / resumed / replaced /
    unchanged), edges, seconds.
    """
    path = manifest.edge_files(root)[condition]
    cuid = f"{manifest.run_id}/{condition}"
    states = states or ensure_edge_states(root, manifest)
    key = load_key(path, selection, states)
    rec = _write(graph, "MATCH (c:Condition {uid: $cuid}) RETURN c {.*} AS c",
                 cuid=cuid)[0]["c"]
    gen, loading = int(rec.get("gen") or 0), rec.get("loading_gen")
    t0 = time.perf_counter()
    if gen and rec.get("load_key") == key and loading is None:
        _drop_batch_marks(graph, f"{cuid}@")  # left by an ingest killed after its switch
        _cleanup_stale(graph, manifest.run_id, condition)
        return {"condition": condition, "action": "unchanged", "edges": rec.get("n_edges", 0),
                "seconds": 0.0}
    if gen and not replace and loading is None:
        raise FcgraphError(f"condition {condition!r} of run {manifest.run_id!r} is already loaded "
                           "from different edges or options; use --replace to swap them")
    resumed = loading is not None and rec.get("loading_key") == key
    if resumed:
        new_gen, batch_size = int(loading), int(rec["loading_batch_size"])
    else:
        if loading is not None:  # an abandoned load of other content: forget it
            _write(graph, "MATCH (c:Condition {uid: $cuid}) "
                   "REMOVE c.loading_gen, c.loading_key, c.loading_batch_size", cuid=cuid)
        _drop_batch_marks(graph, f"{cuid}@")
        _cleanup_stale(graph, manifest.run_id, condition)
        new_gen = _next_gen(graph)
        _write(graph, """
            MATCH (c:Condition {uid: $cuid})
            SET c.loading_gen = $gen, c.loading_key = $key, c.loading_batch_size = $bs""",
               cuid=cuid, gen=new_gen, key=key, bs=batch_size)
    load = f"{cuid}@{new_gen}"
    done = _done_batches(graph, load) if resumed else set()
    mask = selected_rows(path, selection)
    total = int(mask.sum()) if mask is not None else pq.ParquetFile(path).metadata.num_rows
    ids = ids if ids is not None else _node_ids(graph, manifest)
    codes = states.codes(condition)
    query = _CREATE_EDGES_PQ if "p" in pq.ParquetFile(path).schema_arrow.names else _CREATE_EDGES
    loaded = min(total, len(done) * batch_size)
    if progress:
        progress(condition, loaded, total)

    def load_batch(j: int, params: dict[str, Any], rows: int) -> int:
        created = _write(graph, query, load=load, batch=j, gen=new_gen,
                         condition=condition, **params)[0]["created"]
        if created != rows:
            raise FcgraphError(f"batch {j} of {condition!r} created {created} of {rows} edges "
                               "(neuron nodes missing?); rerun to resume")
        faults.checkpoint("ingest.batch")
        return rows

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        in_flight: set[Future[int]] = set()
        for j, batch, rows in edge_batches(path, mask, batch_size):
            if j in done:
                continue
            in_flight.add(pool.submit(load_batch, j, _batch_params(batch, ids, codes, rows),
                                      batch.num_rows))
            if len(in_flight) >= 2 * max(1, workers):
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                loaded += sum(f.result() for f in finished)
                if progress:
                    progress(condition, min(loaded, total), total)
        for fut in in_flight:
            loaded += fut.result()
    if progress:
        progress(condition, total, total)
    _write(graph, """
        MATCH (c:Condition {uid: $cuid}) WHERE c.loading_gen = $gen
        SET c.gen = $gen, c.load_key = $key, c.n_edges = $n, c.source = $source,
            c.top_k = $top_k, c.min_z = $min_z, c.loaded_at = datetime()
        REMOVE c.loading_gen, c.loading_key, c.loading_batch_size""",
           cuid=cuid, gen=new_gen, key=key, n=total, source=str(path.relative_to(root)),
           top_k=selection.top_k, min_z=selection.min_z)
    faults.checkpoint("ingest.switched")
    _drop_batch_marks(graph, f"{cuid}@")
    _cleanup_stale(graph, manifest.run_id, condition)
    action = "resumed" if resumed else ("replaced" if gen else "loaded")
    return {"condition": condition, "action": action, "edges": total,
            "seconds": round(time.perf_counter() - t0, 3)}


#: ``analysis/neurons.parquet`` columns set on ``:Neuron`` nodes (clean rows; NaN = not set).
ANALYSIS_NEURON_PROPS = ("group_size", "gain", "gain_lo", "gain_hi", "threshold", "threshold_lo",
                         "threshold_hi", "baseline", "r2", "r2_linear", "f_p", "threshold_linear",
                         "event_threshold", "event_fraction", "mi_event", "mi_average",
                         "mi_shuffle")


@dataclass(frozen=True)
class AnalysisFiles:
    """``fcgraph analyze`` output of a run folder, read and checked before anything is written."""

    key: str
    analysis: dict[str, Any]
    neurons: pd.DataFrame


def read_analysis(root: Path, manifest: RunManifest) -> AnalysisFiles | None:
    """The run's ``analysis/`` (None when it holds no analysis); :class:`FcgraphError` names a
    damaged file or a row naming a neuron the manifest does not have."""
    run = RunFolder(root)
    table_path, json_path = run.analysis_neurons, run.analysis_json
    if not table_path.exists() or not json_path.exists():
        return None
    key = f"{sha256_file(table_path)};{sha256_file(json_path)}"
    analysis = read_json_object(json_path, "missing")
    if analysis.get("run_id") != manifest.run_id:
        raise FcgraphError(f"{json_path}: run_id {analysis.get('run_id')!r} is not the manifest's "
                           f"{manifest.run_id!r}; rerun `fcgraph analyze`")
    try:
        df = pd.read_parquet(table_path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise FcgraphError(f"{table_path}: not a readable Parquet file "
                           f"({str(exc).splitlines()[0]})") from None
    missing = [c for c in ("layer", "idx") if c not in df]
    if missing:
        raise FcgraphError(f"{table_path}: missing column {missing[0]!r}")
    if "condition" in df:
        df = df[df["condition"] == "clean"]
    sizes = {la.name: la.n_neurons for la in manifest.layers}
    bad = df[~df["layer"].isin(list(sizes)) | (df["idx"] < 0)
             | (df["idx"] >= df["layer"].map(sizes).fillna(0))]
    if len(bad):
        raise FcgraphError(f"{table_path}: {len(bad)} rows name neurons the manifest does not have "
                           f"(e.g. {bad['layer'].iloc[0]}/{bad['idx'].iloc[0]})")
    return AnalysisFiles(key, analysis, df)


@dataclass(frozen=True)
class AnalysisProperties:
    """What ``fcgraph analyze`` output puts on the graph: per neuron uid, per layer uid and on
    the run (``analysis_key`` included), as Neo4j-storable values (None: not set)."""

    neurons: dict[str, dict[str, Any]]
    layers: dict[str, dict[str, Any]]
    run: dict[str, Any]


def _plain_value(value: Any) -> Any:
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def analysis_properties(manifest: RunManifest, files: AnalysisFiles) -> AnalysisProperties:
    """Neuron properties (ANALYSIS_NEURON_PROPS and ``analysed``), each post layer's read-out
    accuracies and the findings as flat ``finding_<n>_*`` run properties."""
    neurons = {}
    for rec in files.neurons.to_dict("records"):
        props = {"analysed": bool(rec.get("analysed", False))}
        props.update({name: _plain_value(rec.get(name)) for name in ANALYSIS_NEURON_PROPS})
        neurons[neuron_uid(manifest.run_id, rec["layer"], int(rec["idx"]))] = props
    layers = {}
    for la in files.analysis.get("layers", []):
        dec = la.get("decoding", {})
        layers[f"{manifest.run_id}/{la['post_layer']}"] = {
            "decoding_event_accuracy": dec.get("event", {}).get("accuracy"),
            "decoding_average_accuracy": dec.get("average", {}).get("accuracy"),
            "decoding_shuffle_accuracy": dec.get("event", {}).get("shuffle_accuracy"),
            "median_group_size": la.get("group_sizes", {}).get("median"),
            "gain_size_rho": la.get("io", {}).get("gain_vs_size", {}).get("rho")}
    run: dict[str, Any] = {"analysis_key": files.key,
                           "analysis_created": files.analysis.get("created")}
    for f in files.analysis.get("findings", []):
        prefix = f"finding_{f['id']}"
        run.update({f"{prefix}_supported": f.get("supported"),
                    f"{prefix}_value": f.get("value"), f"{prefix}_ci_low": f.get("ci_low"),
                    f"{prefix}_ci_high": f.get("ci_high"),
                    f"{prefix}_statistic": f.get("statistic"),
                    f"{prefix}_criterion": f.get("criterion")})
    return AnalysisProperties(neurons, layers, run)


def _ingest_analysis(graph: Graph, manifest: RunManifest,
                     files: AnalysisFiles | None) -> bool:
    """Put ``fcgraph analyze`` results (:func:`analysis_properties`) into the graph, skipped
    when unchanged (``Run.analysis_key``). Returns whether anything was written."""
    if files is None:
        return False
    done = _write(graph, "MATCH (r:Run {run_id: $run_id}) RETURN r.analysis_key AS k",
                  run_id=manifest.run_id)[0]["k"]
    if done == files.key:
        return False
    props = analysis_properties(manifest, files)
    rows = [{"uid": uid, "props": p} for uid, p in props.neurons.items()]
    for start in range(0, len(rows), NEURON_BATCH):
        _write(graph, """
            UNWIND $rows AS row
            MATCH (n:Neuron {uid: row.uid})
            SET n += row.props""", rows=rows[start:start + NEURON_BATCH])
    _write(graph, """
        UNWIND $layers AS l
        MATCH (x:Layer {uid: l.uid})
        SET x += l.props""", layers=[{"uid": uid, "props": p} for uid, p in props.layers.items()])
    _write(graph, "MATCH (r:Run {run_id: $run_id}) SET r += $props",
           run_id=manifest.run_id, props=props.run)
    return True


def ingest_run(graph: Graph, run_dir: str | Path, *,
               conditions: list[str] | None = None, replace: bool = False,
               batch_size: int = EDGE_BATCH, workers: int = EDGE_WORKERS, top_k: int | None = None,
               min_z: float | None = None, progress: ProgressFn | None = None,
               waiting: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Validate a run folder, then load its structure, neurons and edge tables.

    ``conditions`` limits the edge tables loaded (default: all listed in the manifest);
    ``top_k`` keeps each post neuron's K strongest in-edges by z, ``min_z`` a stricter threshold;
    ``workers`` edge transactions run concurrently (Neo4j uses one core per transaction).
    When ``analysis/`` holds ``fcgraph analyze`` output, its neuron properties and findings
    are added too (see :func:`_ingest_analysis`). The run's lock is held throughout
    (:func:`run_lock`; ``waiting`` is told when another ingest of the run holds it).
    Returns one row per condition: condition, action, edges, seconds.
    """
    root = Path(run_dir)
    at_least(batch_size, 1, "--batch-size")
    at_least(workers, 1, "--workers")
    selection = Selection(top_k=top_k, min_z=min_z)
    manifest = read_manifest(root)
    summaries = validate_run(root, manifest, conditions)
    analysis = read_analysis(root, manifest)
    states = ensure_edge_states(root, manifest, progress=progress)
    apply_schema(graph)
    with run_lock(graph, manifest.run_id, waiting=waiting):
        return _ingest_locked(graph, root, manifest, list(summaries), replace, batch_size,
                              workers, selection, analysis, states, progress)


def neurons_key(root: Path, manifest: RunManifest) -> str:
    """What the neuron nodes are built from: the neuron table's SHA-256 and the testing rule."""
    rel = manifest.fc.get("neurons")
    min_spikes = manifest.fc.get("parameters", {}).get("min_spikes")
    return f"{sha256_file(root / rel) if rel else 'none'};min_spikes={min_spikes}"


def _ingest_locked(graph: Graph, root: Path, manifest: RunManifest, conditions: list[str],
                   replace: bool, batch_size: int, workers: int,
                   selection: Selection, analysis: AnalysisFiles | None, states: EdgeStates,
                   progress: ProgressFn | None) -> pd.DataFrame:
    """:func:`ingest_run` once the folder is validated (``analysis``: what :func:`read_analysis`
    read; ``states``: the edge states) and the run's lock held."""
    _ingest_structure(graph, manifest, root)
    done = _write(graph, "MATCH (r:Run {run_id: $run_id}) RETURN r.neurons_key AS k",
                  run_id=manifest.run_id)[0]["k"]
    key = neurons_key(root, manifest)
    if done != key:
        _ingest_neurons(graph, root, manifest, progress)
        faults.checkpoint("ingest.neurons")
        _write(graph, "MATCH (r:Run {run_id: $run_id}) SET r.neurons_key = $k",
               run_id=manifest.run_id, k=key)
    ingest_states(graph, manifest, states, neuron_batch=NEURON_BATCH)
    _ingest_analysis(graph, manifest, analysis)
    ids = _node_ids(graph, manifest)
    rows = [ingest_condition(graph, root, manifest, name, replace=replace,
                             batch_size=batch_size, workers=workers, selection=selection,
                             ids=ids, states=states, progress=progress)
            for name in conditions]
    return pd.DataFrame(rows, columns=["condition", "action", "edges", "seconds"])


def delete_run(graph: Graph, run_id: str) -> None:
    """Remove a run: its edges, neurons, layers, conditions and run node (in batches), holding
    the run's lock (an ingest of the run in progress finishes first)."""
    with run_lock(graph, run_id):
        _delete_run(graph, run_id)


def _delete_run(graph: Graph, run_id: str) -> None:
    _auto(graph, """
        MATCH (:Neuron {run_id: $run_id})-[r:FC]->()
        CALL (r) { DELETE r } IN TRANSACTIONS OF $n ROWS""", run_id=run_id, n=DELETE_BATCH)
    _drop_batch_marks(graph, f"{run_id}/")
    _auto(graph, """
        MATCH (n) WHERE n.run_id = $run_id
        CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF $n ROWS""", run_id=run_id, n=DELETE_BATCH)


def list_runs(graph: Graph) -> pd.DataFrame:
    """Runs in the graph with their conditions' live edge counts (read session)."""
    records = graph.read("""
        MATCH (r:Run)
        OPTIONAL MATCH (r)-[:HAS_CONDITION]->(c:Condition)
        RETURN r.run_id AS run_id, r.schema_version AS schema_version,
               collect(c.name) AS conditions, sum(coalesce(c.n_edges, 0)) AS edges
        ORDER BY run_id""", what="listing the runs").records
    return pd.DataFrame([dict(r) for r in records],
                        columns=["run_id", "schema_version", "conditions", "edges"])
