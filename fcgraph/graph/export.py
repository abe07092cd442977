"""Export a run's functional connectome from Neo4j for NetworkX, graph tools and array code.

Everything is read in READ sessions with parameters only; edges are streamed layer by layer
(one pre layer and condition at a time), and only live edges (``r.gen`` = its condition's gen)
are exported. Output layout of ``export_run(..., out=DIR)``::

    DIR/manifest.json           run_id, format, layers (name, order, shape, n_neurons), conditions
                                (name, kind, level, gen, n_edges exported), files, columns
    format networkx:  DIR/graph.json     node-link JSON (networkx.node_link_data, edges="edges"):
                                         a MultiDiGraph, node id = neuron uid, edge key = condition
    format graphml:   DIR/graph.graphml  the same MultiDiGraph (lists as JSON strings, nulls left out)
    format parquet:   DIR/nodes.parquet  one row per neuron: uid, run_id, layer, layer_order, idx,
                                         channel, y, x, rate, spike_count and any other property
                      DIR/edges.parquet  one row per live FC edge: run_id, condition, pre_uid,
                                         pre_layer, pre_idx, post_uid, post_layer, post_idx,
                                         measure, value, z, cofire, null_mean, null_sd, p, q
    format adjacency: DIR/adjacency/<pre>__<post>__<condition>.npz  scipy.sparse CSR matrix of z,
                                         shape (n_pre, n_post): row = pre_idx, column = post_idx
                      DIR/adjacency/index.json  one entry per file: pre_layer, post_layer,
                                         condition, file, shape, nnz, values ("z")

Layer and condition names in file names go through :func:`fcgraph.contract.condition_slug`
(``uniform:0.1`` -> ``uniform_0.1``); index.json gives the real names. Load them back with
:func:`load_networkx`, ``networkx.read_graphml``, ``pandas.read_parquet`` and
``scipy.sparse.load_npz``.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import neo4j
import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from fcgraph import SCHEMA_VERSION
from fcgraph.contract import condition_slug
from fcgraph.errors import BadArgument, choice
from fcgraph.execution import ProgressFn
from fcgraph.graph.connection import Graph
from fcgraph.io import atomic_write_text, plain

FETCH_SIZE = 10_000
EDGE_PROPS = ("measure", "value", "z", "cofire", "null_mean", "null_sd", "p", "q")
EDGE_FIELDS: dict[str, pa.DataType] = {
    "run_id": pa.string(), "condition": pa.string(),
    "pre_uid": pa.string(), "pre_layer": pa.string(), "pre_idx": pa.int64(),
    "post_uid": pa.string(), "post_layer": pa.string(), "post_idx": pa.int64(),
    "measure": pa.string(), "value": pa.float64(), "z": pa.float64(), "cofire": pa.int64(),
    "null_mean": pa.float64(), "null_sd": pa.float64(), "p": pa.float64(), "q": pa.float64(),
}
EDGE_ARROW_SCHEMA = pa.schema(list(EDGE_FIELDS.items()))


class ExportFormat(StrEnum):
    """What ``fcgraph export --format`` writes."""

    networkx = "networkx"
    graphml = "graphml"
    parquet = "parquet"
    adjacency = "adjacency"


@dataclass(frozen=True)
class LayerMeta:
    """A layer of the run as stored in the graph."""

    name: str
    order: int
    shape: tuple[int, ...]
    n_neurons: int


@dataclass(frozen=True)
class ConditionMeta:
    """A condition of the run as stored in the graph (``gen`` = its live load generation)."""

    name: str
    kind: str | None
    level: float | None
    gen: int


@dataclass
class ExportResult:
    """What was written: files (relative to ``out``), neuron and edge counts per condition."""

    out: Path
    format: ExportFormat
    files: list[str] = field(default_factory=list)
    n_neurons: int = 0
    n_edges: dict[str, int] = field(default_factory=dict)


_LAYERS = """
MATCH (:Run {run_id: $run_id})-[:HAS_LAYER]->(l:Layer)
OPTIONAL MATCH (n:Neuron {run_id: $run_id, layer: l.name})
WITH l, count(n) AS n_neurons
RETURN l.name AS name, l.order AS order, l.shape AS shape, n_neurons
ORDER BY l.order"""
_CONDITIONS = """
MATCH (:Run {run_id: $run_id})-[:HAS_CONDITION]->(c:Condition)
RETURN c.name AS name, c.kind AS kind, c.level AS level, c.gen AS gen ORDER BY c.name"""
_NEURONS = """
MATCH (n:Neuron {run_id: $run_id, layer: $layer})
RETURN properties(n) AS props ORDER BY n.idx"""
_EDGES = """
MATCH (a:Neuron {run_id: $run_id, layer: $layer})-[r:FC]->(b:Neuron)
WHERE r.condition = $condition AND r.gen = $gen
RETURN a.uid AS pre_uid, a.layer AS pre_layer, a.idx AS pre_idx,
       b.uid AS post_uid, b.layer AS post_layer, b.idx AS post_idx,
       $measure AS measure, r.value AS value, r.z AS z, r.cofire AS cofire,
       r.null_mean AS null_mean, r.null_sd AS null_sd, r.p AS p, r.q AS q
ORDER BY post_layer, pre_idx, post_idx"""


class GraphReader:
    """Reads one run from Neo4j in READ sessions (parameters only)."""

    def __init__(self, graph: Graph, run_id: str) -> None:
        self.graph = graph
        self.run_id = run_id

    def _records(self, query: str, **params: Any) -> Iterator[neo4j.Record]:
        with self.graph.session(read=True, fetch_size=FETCH_SIZE) as session:
            yield from session.run(query, run_id=self.run_id, **params)  # type: ignore[arg-type]

    def layers(self) -> list[LayerMeta]:
        """The run's layers in order; :class:`BadArgument` when the run does not exist."""
        rows = [LayerMeta(r["name"], int(r["order"]), tuple(int(v) for v in (r["shape"] or [])),
                          int(r["n_neurons"])) for r in self._records(_LAYERS)]
        if not rows:
            exists = list(self._records("MATCH (r:Run {run_id: $run_id}) RETURN r.run_id AS id"))
            if not exists:
                raise BadArgument("RUN_ID", f"run {self.run_id!r} is not in the graph (see `fcgraph "
                                            "runs` or ingest it first)")
        return rows

    def conditions(self, names: Sequence[str] | None = None) -> list[ConditionMeta]:
        """The run's conditions (all, or those named, in the order named)."""
        found = {r["name"]: ConditionMeta(r["name"], r["kind"], r["level"], int(r["gen"] or 0))
                 for r in self._records(_CONDITIONS)}
        if not names:
            return list(found.values())
        missing = [n for n in names if n not in found]
        if missing:
            raise BadArgument("--condition", f"run {self.run_id!r} has no condition {missing[0]!r} "
                                             f"(it has: {', '.join(sorted(found)) or 'none'})")
        return [found[n] for n in dict.fromkeys(names)]

    def neurons(self, layer: str) -> Iterator[dict[str, Any]]:
        """Every property of each neuron of ``layer``, in index order."""
        for rec in self._records(_NEURONS, layer=layer):
            yield dict(rec["props"])

    @functools.cached_property
    def measure(self) -> str:
        """The run's fc measure (``Run.fc_measure``), the same for every edge."""
        found = list(self._records("MATCH (r:Run {run_id: $run_id}) RETURN r.fc_measure AS m"))
        return str(found[0]["m"]) if found and found[0]["m"] else "unknown"

    def edges(self, layer: str, condition: ConditionMeta) -> Iterator[dict[str, Any]]:
        """The live FC edges leaving the neurons of ``layer`` under ``condition``."""
        for rec in self._records(_EDGES, layer=layer, condition=condition.name, gen=condition.gen,
                                 measure=self.measure):
            row = dict(rec)
            row["run_id"] = self.run_id
            row["condition"] = condition.name
            yield row


def export_run(graph: Graph, run_id: str, fmt: ExportFormat | str, out: Path, *,
               conditions: Sequence[str] | None = None, progress: ProgressFn | None = None) -> ExportResult:
    """Export run ``run_id`` in format ``fmt`` into folder ``out`` (created; files overwritten)."""
    fmt = ExportFormat(choice(str(fmt), [f.value for f in ExportFormat], "--format", "format"))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadArgument("--out", f"{out} is a file, not a folder")
    reader = GraphReader(graph, run_id)
    layers = reader.layers()
    conds = reader.conditions(conditions)
    out.mkdir(parents=True, exist_ok=True)
    result = ExportResult(out=out, format=fmt)
    writer = {ExportFormat.networkx: _export_networkx, ExportFormat.graphml: _export_graphml,
              ExportFormat.parquet: _export_parquet, ExportFormat.adjacency: _export_adjacency}[fmt]
    writer(reader, layers, conds, out, result, progress)
    _write_manifest(out, run_id, fmt, layers, conds, result)
    return result


def _edge_stream(reader: GraphReader, layers: list[LayerMeta], conds: list[ConditionMeta],
                 result: ExportResult, progress: ProgressFn | None) -> Iterator[dict[str, Any]]:
    steps = len(layers) * len(conds)
    done = 0
    for cond in conds:
        result.n_edges.setdefault(cond.name, 0)
        for layer in layers:
            for row in reader.edges(layer.name, cond):
                result.n_edges[cond.name] += 1
                yield row
            done += 1
            if progress:
                progress("edges", done, steps)


def _node_stream(reader: GraphReader, layers: list[LayerMeta], result: ExportResult,
                 progress: ProgressFn | None) -> Iterator[dict[str, Any]]:
    total = sum(la.n_neurons for la in layers)
    for layer in layers:
        for props in reader.neurons(layer.name):
            result.n_neurons += 1
            yield props
        if progress:
            progress("neurons", result.n_neurons, total)


def build_graph(reader: GraphReader, layers: list[LayerMeta], conds: list[ConditionMeta],
                result: ExportResult, progress: ProgressFn | None = None) -> nx.MultiDiGraph:
    """The run as a NetworkX MultiDiGraph: node id = uid, one keyed edge per condition."""
    graph = nx.MultiDiGraph(run_id=reader.run_id, schema_version=SCHEMA_VERSION,
                            layers=[la.name for la in layers], conditions=[c.name for c in conds])
    for props in _node_stream(reader, layers, result, progress):
        graph.add_node(props["uid"], **{k: v for k, v in props.items() if k != "uid"})
    for row in _edge_stream(reader, layers, conds, result, progress):
        attrs = {k: row[k] for k in EDGE_PROPS if row.get(k) is not None}
        graph.add_edge(row["pre_uid"], row["post_uid"], key=row["condition"],
                       condition=row["condition"], **attrs)
    return graph


def _export_networkx(reader: GraphReader, layers: list[LayerMeta], conds: list[ConditionMeta],
                     out: Path, result: ExportResult, progress: ProgressFn | None) -> None:
    graph = build_graph(reader, layers, conds, result, progress)
    data = nx.node_link_data(graph, edges="edges")
    atomic_write_text(out / "graph.json", json.dumps(plain(data)))
    result.files.append("graph.json")


def load_networkx(path: Path) -> nx.MultiDiGraph:
    """Read a ``graph.json`` written by the networkx export back into a MultiDiGraph."""
    data = json.loads(Path(path).read_text())
    return nx.node_link_graph(data, directed=True, multigraph=True, edges="edges")


def _export_graphml(reader: GraphReader, layers: list[LayerMeta], conds: list[ConditionMeta],
                    out: Path, result: ExportResult, progress: ProgressFn | None) -> None:
    graph = build_graph(reader, layers, conds, result, progress)
    for key, value in list(graph.graph.items()):
        graph.graph[key] = json.dumps(value) if isinstance(value, list | tuple | dict) else value
    for _, attrs in graph.nodes(data=True):
        for key, value in list(attrs.items()):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                del attrs[key]
            elif isinstance(value, list | tuple | dict):
                attrs[key] = json.dumps(value)
    tmp = out / "graph.graphml.partial"
    nx.write_graphml(graph, tmp)
    tmp.replace(out / "graph.graphml")
    result.files.append("graph.graphml")


def _export_parquet(reader: GraphReader, layers: list[LayerMeta], conds: list[ConditionMeta],
                    out: Path, result: ExportResult, progress: ProgressFn | None) -> None:
    nodes = pd.DataFrame(list(_node_stream(reader, layers, result, progress)))
    front = [c for c in ("uid", "run_id", "layer", "layer_order", "idx", "channel", "y", "x",
                         "rate", "spike_count") if c in nodes.columns]
    nodes = nodes[front + sorted(c for c in nodes.columns if c not in front)]
    for col in nodes.columns:  # lists and maps (rare) as JSON text, so the column has one type
        if nodes[col].map(lambda v: isinstance(v, list | tuple | dict)).any():
            nodes[col] = nodes[col].map(lambda v: None if v is None else json.dumps(v))
    tmp = out / "nodes.parquet.partial"
    nodes.to_parquet(tmp, index=False)
    tmp.replace(out / "nodes.parquet")
    tmp = out / "edges.parquet.partial"
    with pq.ParquetWriter(tmp, EDGE_ARROW_SCHEMA) as writer:
        batch: list[dict[str, Any]] = []
        for row in _edge_stream(reader, layers, conds, result, progress):
            batch.append(row)
            if len(batch) >= 100_000:
                writer.write_table(pa.Table.from_pylist(batch, schema=EDGE_ARROW_SCHEMA))
                batch = []
        if batch or not result.n_edges or not sum(result.n_edges.values()):
            writer.write_table(pa.Table.from_pylist(batch, schema=EDGE_ARROW_SCHEMA))
    tmp.replace(out / "edges.parquet")
    result.files += ["nodes.parquet", "edges.parquet"]


def _export_adjacency(reader: GraphReader, layers: list[LayerMeta], conds: list[ConditionMeta],
                      out: Path, result: ExportResult, progress: ProgressFn | None) -> None:
    folder = out / "adjacency"
    folder.mkdir(parents=True, exist_ok=True)
    result.n_neurons = sum(la.n_neurons for la in layers)
    size = {la.name: la.n_neurons for la in layers}
    index: list[dict[str, Any]] = []
    steps, done = len(layers) * len(conds), 0
    for cond in conds:
        result.n_edges.setdefault(cond.name, 0)
        for layer in layers:
            per_post: dict[str, tuple[list[int], list[int], list[float]]] = {}
            for row in reader.edges(layer.name, cond):
                rows, cols, vals = per_post.setdefault(row["post_layer"], ([], [], []))
                rows.append(row["pre_idx"])
                cols.append(row["post_idx"])
                vals.append(row["z"])
                result.n_edges[cond.name] += 1
            for post, (rows, cols, vals) in sorted(per_post.items()):
                shape = (size[layer.name], size.get(post, max(cols) + 1))
                matrix = sp.csr_matrix((np.asarray(vals, dtype=np.float64),
                                        (np.asarray(rows), np.asarray(cols))), shape=shape)
                name = "__".join(condition_slug(s) for s in (layer.name, post, cond.name)) + ".npz"
                sp.save_npz(folder / name, matrix)
                index.append({"pre_layer": layer.name, "post_layer": post, "condition": cond.name,
                              "file": name, "shape": list(shape), "nnz": int(matrix.nnz),
                              "values": "z"})
                result.files.append(f"adjacency/{name}")
            done += 1
            if progress:
                progress("edges", done, steps)
    atomic_write_text(folder / "index.json", json.dumps(index, indent=1) + "\n")
    result.files.append("adjacency/index.json")


def _write_manifest(out: Path, run_id: str, fmt: ExportFormat, layers: list[LayerMeta],
                    conds: list[ConditionMeta], result: ExportResult) -> None:
    manifest = {
        "run_id": run_id, "format": fmt.value, "schema_version": SCHEMA_VERSION,
        "layers": [{"name": la.name, "order": la.order, "shape": list(la.shape),
                    "n_neurons": la.n_neurons} for la in layers],
        "conditions": [{"name": c.name, "kind": c.kind, "level": c.level, "gen": c.gen,
                        "n_edges": result.n_edges.get(c.name, 0)} for c in conds],
        "n_neurons": result.n_neurons, "files": result.files,
        "edge_columns": list(EDGE_FIELDS),
    }
    atomic_write_text(out / "manifest.json", json.dumps(plain(manifest), indent=1) + "\n")

