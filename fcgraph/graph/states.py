"""What the graph holds about *every* significant edge of a run, whatever subset it loads.

Three things come from the run's edge states and summaries (:mod:`fcgraph.fc.edge_states`,
:mod:`fcgraph.fc.edge_summaries`), written by both loaders (online here, bulk in
:mod:`fcgraph.graph.import_files`):

- ``:EdgeLoss`` nodes: per (baseline, condition, layer pair), kept / weakened / silenced /
  gained counts (the ``edge_loss`` query);
- ``:PairStats`` nodes: per (condition, layer pair), edges, connected neurons, mean z and mean
  value (the ``layer_summary`` query);
- per-neuron degree lists (DEGREE_PROPERTIES), one value per condition of the run's
  ``degree_conditions`` list (the ``hubs`` query), and loss lists (LOSS_PROPERTIES) indexed
  the same way: the strongest edges of the run's first condition (``Run.loss_baseline``) that
  each condition breaks (the ``lost_pathways`` query).

The run's ``states_key`` names the inputs they were computed from; a load rewrites them only
when it changes.
"""

from __future__ import annotations

from typing import Any

import neo4j
import numpy as np
import pandas as pd

from fcgraph.contract import RunManifest
from fcgraph.fc.edge_states import EdgeStates
from fcgraph.graph.connection import Graph
from fcgraph.io import plain

#: Neuron properties holding one value per condition of ``Run.degree_conditions``: edges ending
#: at (in) / starting from (out) the neuron, the sum and the maximum of their z (0 where the
#: degree is 0). Absent on a neuron without edges under every condition.
DEGREE_PROPERTIES = ("in_degree", "out_degree", "in_sum_z", "out_sum_z", "in_max_z", "out_max_z")
#: Neuron properties holding one value per condition of ``Run.degree_conditions``: the largest z
#: of the neuron's in- / out-edges of ``Run.loss_baseline`` lost (weakened or silenced) under the
#: condition; NaN where none is (always at the baseline's own index).
LOSS_PROPERTIES = ("in_lost_max_z", "out_lost_max_z")
NEURON_LIST_PROPERTIES = DEGREE_PROPERTIES + LOSS_PROPERTIES


def _rows(frame: pd.DataFrame, manifest: RunManifest, key_columns: list[str]) -> list[dict[str, Any]]:
    orders = {la.name: la.order for la in manifest.layers}
    rows = []
    for rec in frame.to_dict("records"):
        props = {k: plain(v) for k, v in rec.items()}
        props["uid"] = "/".join([manifest.run_id] + [rec[k] for k in key_columns])
        props.update(run_id=manifest.run_id, pre_order=orders[rec["pre_layer"]],
                     post_order=orders[rec["post_layer"]])
        rows.append(props)
    return rows


def edge_loss_rows(manifest: RunManifest, states: EdgeStates) -> list[dict[str, Any]]:
    """Properties of the run's ``:EdgeLoss`` nodes: one per (baseline, condition, layer pair)
    of the states' counts, with its uid and the layers' orders."""
    return _rows(states.counts(), manifest, ["baseline", "condition", "pre_layer", "post_layer"])


def pair_stats_rows(manifest: RunManifest, states: EdgeStates) -> list[dict[str, Any]]:
    """Properties of the run's ``:PairStats`` nodes: one per (condition, layer pair), with its
    uid and the layers' orders (mean_z / mean_value absent without edges)."""
    return _rows(states.pairs(), manifest, ["condition", "pre_layer", "post_layer"])


def degree_conditions(manifest: RunManifest) -> list[str]:
    """The conditions the degree lists are indexed by: the run's edge tables, in manifest order."""
    return list(manifest.fc.get("edges", {}))


def loss_baseline(manifest: RunManifest) -> str | None:
    """The condition whose lost edges the loss lists describe: the run's first edge table."""
    conditions = degree_conditions(manifest)
    return conditions[0] if conditions else None


def degree_arrays(manifest: RunManifest,
                  states: EdgeStates) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Per layer: (bool (n_neurons,) whether the neuron has an edge under some condition,
    property -> (n_neurons, n_conditions) array) for NEURON_LIST_PROPERTIES, conditions in
    :func:`degree_conditions` order (degree properties 0 where the degree is 0, loss properties
    NaN where no edge is lost)."""
    conditions = degree_conditions(manifest)
    column = {c: k for k, c in enumerate(conditions)}
    sources = ((states.degrees(), DEGREE_PROPERTIES, 0.0), (states.losses(), LOSS_PROPERTIES, np.nan))
    groups = [dict(tuple(frame.groupby("layer"))) if len(frame) else {} for frame, _, _ in sources]
    out = {}
    for layer in manifest.layers:
        arrays = {p: np.full((layer.n_neurons, len(conditions)), empty,
                             np.int64 if p.endswith("degree") else np.float64)
                  for _, props, empty in sources for p in props}
        has = np.zeros(layer.n_neurons, bool)
        for (_, props, empty), by_layer in zip(sources, groups, strict=True):
            part = by_layer.get(layer.name)
            if part is None:
                continue
            idx = part["idx"].to_numpy(np.int64)
            col = part["condition"].map(column).to_numpy(np.int64)
            has[idx] = True
            for p in props:
                arrays[p][idx, col] = np.nan_to_num(part[p].to_numpy(), nan=empty)
        out[layer.name] = (has, arrays)
    return out


_SET_LISTS = """
UNWIND range(0, size($in_degree) - 1) AS i
MATCH (n:Neuron {uid: $prefix + toString($start + i)})
SET """ + ", ".join(f"n.{p} = ${p}[i]" for p in NEURON_LIST_PROPERTIES)


def _write_degrees(graph: Graph, manifest: RunManifest, states: EdgeStates, batch: int) -> None:
    for layer, (has, arrays) in degree_arrays(manifest, states).items():
        for start in range(0, has.size, batch):
            sl = slice(start, start + batch)
            lists = {p: [row.tolist() if keep else None
                         for row, keep in zip(a[sl], has[sl], strict=True)]
                     for p, a in arrays.items()}
            graph.write(_SET_LISTS, {"prefix": f"{manifest.run_id}/{layer}/", "start": start,
                                     **lists})


def ingest_states(graph: Graph, manifest: RunManifest, states: EdgeStates, *,
                  neuron_batch: int) -> None:
    """Rewrite the run's degree lists, ``:EdgeLoss`` and ``:PairStats`` nodes when its
    ``states_key`` differs from ``states.key`` (the neuron nodes must exist; ``neuron_batch``
    neurons per transaction).

    The degree lists are written in batches first; the nodes and the new key in one final
    transaction, so a killed load leaves the old key and the next load writes everything again.
    """
    done = graph.write("MATCH (r:Run {run_id: $run_id}) RETURN r.states_key AS k",
                       {"run_id": manifest.run_id}).records[0]["k"]
    if done == states.key:
        return
    _write_degrees(graph, manifest, states, neuron_batch)

    def replace(tx: neo4j.ManagedTransaction) -> None:
        for label in ("EdgeLoss", "PairStats"):
            tx.run(f"MATCH (e:{label} {{run_id: $run_id}}) DELETE e",
                   run_id=manifest.run_id).consume()
        tx.run("UNWIND $rows AS row CREATE (e:EdgeLoss) SET e = row",
               rows=edge_loss_rows(manifest, states)).consume()
        tx.run("UNWIND $rows AS row CREATE (e:PairStats) SET e = row",
               rows=pair_stats_rows(manifest, states)).consume()
        tx.run("MATCH (r:Run {run_id: $run_id}) SET r.states_key = $key, r.states_exact = $exact,"
               " r.degree_conditions = $conditions, r.loss_baseline = $baseline",
               run_id=manifest.run_id, key=states.key, exact=states.exact,
               conditions=degree_conditions(manifest), baseline=loss_baseline(manifest)).consume()

    with graph.session() as session:
        session.execute_write(replace)
