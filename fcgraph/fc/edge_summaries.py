"""Per-neuron degrees and per-layer-pair totals of a condition's significant edges.

Computed from the run's edge tables (every significant edge, whatever subset a graph loads)
beside the edge states (:mod:`fcgraph.fc.edge_states`, same inputs key), so that the graph can
answer ``hubs`` and ``layer_summary`` over all edges without traversing them::

    fc/states/degrees.parquet  one row per (condition, layer, idx) of a neuron with at least one
                               edge under the condition: DEGREE_COLUMNS
    fc/states/pairs.parquet    one row per (condition, layer pair an edge may join):
                               PAIR_COLUMNS
    fc/states/losses.parquet   one row per (condition, layer, idx) of a neuron with at least
                               one edge of the run's first condition (its baseline) lost under
                               the condition: LOSS_COLUMNS
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fcgraph.contract import RunManifest

DEGREES_FILE = "degrees.parquet"
PAIRS_FILE = "pairs.parquet"
LOSSES_FILE = "losses.parquet"
#: Columns of ``degrees.parquet``: in/out = edges ending / starting at the neuron; sum and max
#: of their z (max_z is NaN where the degree is 0).
DEGREE_COLUMNS = ["condition", "layer", "idx", "in_degree", "out_degree", "in_sum_z",
                  "out_sum_z", "in_max_z", "out_max_z"]
#: Columns of ``pairs.parquet``: edges, neurons with at least one edge of the pair on each side,
#: mean z and mean value of the pair's edges (NaN without edges).
PAIR_COLUMNS = ["condition", "pre_layer", "post_layer", "edges", "connected_pre",
                "connected_post", "mean_z", "mean_value"]
#: Columns of ``losses.parquet``: the largest z of the neuron's baseline in-edges (edges ending
#: at it) / out-edges lost (weakened or silenced) under ``condition``; NaN where none is.
LOSS_COLUMNS = ["baseline", "condition", "layer", "idx", "in_lost_max_z", "out_lost_max_z"]
_BATCH_ROWS = 1 << 20


def _layer_codes(column, lut: dict[str, int]) -> np.ndarray:
    enc = pc.dictionary_encode(column)
    table = np.array([lut[name] for name in enc.dictionary.to_pylist()], dtype=np.int64)
    return table[enc.indices.to_numpy()]


def summarize_condition(edge_file: Path, manifest: RunManifest, condition: str,
                        lost: dict[str, np.ndarray] | None = None
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Degrees, layer-pair totals and (given ``lost``) loss maxima of one edge table, in one
    pass over it.

    Parameters
    ----------
    edge_file : the condition's ``fc/edges/<slug>.parquet``, read in batches of 2**20 rows.
    manifest : the run's manifest (layers, their sizes and the allowed layer pairs).
    condition : name written in the ``condition`` column (``baseline`` of the losses).
    lost : other condition -> bool (n_edges,) whether each edge of the table (in row order) is
        lost under it; None: no losses.

    Returns
    -------
    (degrees, pairs, losses)
        ``degrees`` (DEGREE_COLUMNS): one row per neuron with at least one edge, in layer order
        then idx; ``pairs`` (PAIR_COLUMNS): one row per allowed layer pair in layer order (zero
        edges included); ``losses`` (LOSS_COLUMNS): one row per (other condition, neuron) with
        at least one lost in- or out-edge, conditions in ``lost`` order. Memory: a few float64
        arrays over all neurons (two more per lost condition), one bool array per layer pair.
    """
    layers = manifest.layers
    offsets = np.cumsum([0] + [la.n_neurons for la in layers])
    layer_at = {la.name: k for k, la in enumerate(layers)}
    names = np.array([la.name for la in layers], dtype=object)
    total = int(offsets[-1])
    order = {la.name: la.order for la in layers}
    pairs = sorted(manifest.allowed_pairs(), key=lambda p: (order[p[0]], order[p[1]]))
    pair_at = {(layer_at[a], layer_at[b]): k for k, (a, b) in enumerate(pairs)}
    pair_lut = np.full(len(layers) * len(layers), -1, dtype=np.int64)
    for (a, b), k in pair_at.items():
        pair_lut[a * len(layers) + b] = k
    deg = {side: np.zeros(total, np.int64) for side in ("in", "out")}
    sum_z = {side: np.zeros(total) for side in ("in", "out")}
    max_z = {side: np.full(total, -np.inf) for side in ("in", "out")}
    lost = lost or {}
    lost_z = {c: {side: np.full(total, -np.inf) for side in ("in", "out")} for c in lost}
    n_pairs = len(pairs)
    pair_edges = np.zeros(n_pairs, np.int64)
    pair_z = np.zeros(n_pairs)
    pair_value = np.zeros(n_pairs)
    seen_pre = [np.zeros(layers[layer_at[a]].n_neurons, bool) for a, _ in pairs]
    seen_post = [np.zeros(layers[layer_at[b]].n_neurons, bool) for _, b in pairs]
    cols = ["pre_layer", "pre_idx", "post_layer", "post_idx", "z", "value"]
    at = 0  # table row of the batch's first row
    for batch in pq.ParquetFile(edge_file).iter_batches(batch_size=_BATCH_ROWS, columns=cols):
        pre_l = _layer_codes(batch.column("pre_layer"), layer_at)
        post_l = _layer_codes(batch.column("post_layer"), layer_at)
        pre_i = batch.column("pre_idx").to_numpy().astype(np.int64)
        post_i = batch.column("post_idx").to_numpy().astype(np.int64)
        z = batch.column("z").to_numpy()
        value = batch.column("value").to_numpy()
        flat = {"out": offsets[pre_l] + pre_i, "in": offsets[post_l] + post_i}
        for side, index in flat.items():
            deg[side] += np.bincount(index, minlength=total)
            sum_z[side] += np.bincount(index, weights=z, minlength=total)
            np.maximum.at(max_z[side], index, z)
            for name, mask in lost.items():
                rows = mask[at:at + batch.num_rows]
                np.maximum.at(lost_z[name][side], index[rows], z[rows])
        at += batch.num_rows
        pair = pair_lut[pre_l * len(layers) + post_l]
        if (pair < 0).any():
            raise ValueError(f"{edge_file}: an edge joins layers that no FEEDS pair allows")
        pair_edges += np.bincount(pair, minlength=n_pairs)
        pair_z += np.bincount(pair, weights=z, minlength=n_pairs)
        pair_value += np.bincount(pair, weights=value, minlength=n_pairs)
        for k in np.unique(pair):
            rows = pair == k
            seen_pre[k][pre_i[rows]] = True
            seen_post[k][post_i[rows]] = True

    def neurons(has: np.ndarray) -> dict[str, np.ndarray]:
        layer_of = np.searchsorted(offsets, has, side="right") - 1
        return {"layer": names[layer_of], "idx": has - offsets[layer_of]}

    def finite(a: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(a), a, np.nan)

    has = np.flatnonzero((deg["in"] > 0) | (deg["out"] > 0))
    degrees = pd.DataFrame({
        "condition": condition, **neurons(has),
        "in_degree": deg["in"][has], "out_degree": deg["out"][has],
        "in_sum_z": sum_z["in"][has], "out_sum_z": sum_z["out"][has],
        "in_max_z": finite(max_z["in"][has]), "out_max_z": finite(max_z["out"][has])},
        columns=DEGREE_COLUMNS)
    with np.errstate(invalid="ignore", divide="ignore"):
        totals = pd.DataFrame({
            "condition": condition, "pre_layer": [a for a, _ in pairs],
            "post_layer": [b for _, b in pairs], "edges": pair_edges,
            "connected_pre": [int(s.sum()) for s in seen_pre],
            "connected_post": [int(s.sum()) for s in seen_post],
            "mean_z": np.where(pair_edges > 0, pair_z / pair_edges, np.nan),
            "mean_value": np.where(pair_edges > 0, pair_value / pair_edges, np.nan)},
            columns=PAIR_COLUMNS)
    parts = []
    for name, sides in lost_z.items():
        has = np.flatnonzero(np.isfinite(sides["in"]) | np.isfinite(sides["out"]))
        parts.append(pd.DataFrame({
            "baseline": condition, "condition": name, **neurons(has),
            "in_lost_max_z": finite(sides["in"][has]),
            "out_lost_max_z": finite(sides["out"][has])}, columns=LOSS_COLUMNS))
    losses = (pd.concat(parts, ignore_index=True) if parts
              else pd.DataFrame({c: [] for c in LOSS_COLUMNS}, columns=LOSS_COLUMNS))
    return degrees, totals, losses
