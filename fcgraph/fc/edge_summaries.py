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


def summarize_condition(edge_file: Path, manifest: RunManifest,
                        condition: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Degrees (DEGREE_COLUMNS) and layer-pair totals (PAIR_COLUMNS) of one edge table.

    Parameters
    ----------
    edge_file : the condition's ``fc/edges/<slug>.parquet``, read in batches of 2**20 rows.
    manifest : the run's manifest (layers, their sizes and the allowed layer pairs).
    condition : name written in the ``condition`` column.

    Returns
    -------
    (degrees, pairs)
        ``degrees``: one row per neuron with at least one edge, in layer order then idx;
        ``pairs``: one row per allowed layer pair in layer order (zero edges included).
        Memory: a few float64 arrays over all neurons and one bool array per layer pair.
    """
    layers = manifest.layers
    offsets = np.cumsum([0] + [la.n_neurons for la in layers])
    layer_at = {la.name: k for k, la in enumerate(layers)}
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
    n_pairs = len(pairs)
    pair_edges = np.zeros(n_pairs, np.int64)
    pair_z = np.zeros(n_pairs)
    pair_value = np.zeros(n_pairs)
    seen_pre = [np.zeros(layers[layer_at[a]].n_neurons, bool) for a, _ in pairs]
    seen_post = [np.zeros(layers[layer_at[b]].n_neurons, bool) for _, b in pairs]
    cols = ["pre_layer", "pre_idx", "post_layer", "post_idx", "z", "value"]
    for batch in pq.ParquetFile(edge_file).iter_batches(batch_size=_BATCH_ROWS, columns=cols):
        pre_l = _layer_codes(batch.column("pre_layer"), layer_at)
        post_l = _layer_codes(batch.column("post_layer"), layer_at)
        pre_i = batch.column("pre_idx").to_numpy().astype(np.int64)
        post_i = batch.column("post_idx").to_numpy().astype(np.int64)
        z = batch.column("z").to_numpy()
        value = batch.column("value").to_numpy()
        for side, flat in (("out", offsets[pre_l] + pre_i), ("in", offsets[post_l] + post_i)):
            deg[side] += np.bincount(flat, minlength=total)
            sum_z[side] += np.bincount(flat, weights=z, minlength=total)
            np.maximum.at(max_z[side], flat, z)
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
    has = np.flatnonzero((deg["in"] > 0) | (deg["out"] > 0))
    layer_of = np.searchsorted(offsets, has, side="right") - 1
    names = np.array([la.name for la in layers], dtype=object)
    degrees = pd.DataFrame({
        "condition": condition, "layer": names[layer_of], "idx": has - offsets[layer_of],
        "in_degree": deg["in"][has], "out_degree": deg["out"][has],
        "in_sum_z": sum_z["in"][has], "out_sum_z": sum_z["out"][has],
        "in_max_z": np.where(deg["in"][has] > 0, max_z["in"][has], np.nan),
        "out_max_z": np.where(deg["out"][has] > 0, max_z["out"][has], np.nan)},
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
    return degrees, totals


def summarize_losses(edge_file: Path, manifest: RunManifest, baseline: str,
                     lost: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per neuron and condition, the largest z of the baseline's edges lost under it.

    Parameters
    ----------
    edge_file : the baseline's ``fc/edges/<slug>.parquet``, read in batches of 2**20 rows.
    manifest : the run's manifest (layers and their sizes).
    baseline : name written in the ``baseline`` column.
    lost : other condition -> bool (n_edges,) whether each edge of the table (in row order) is
        lost under it.

    Returns
    -------
    pandas.DataFrame
        LOSS_COLUMNS: one row per (condition, neuron) with at least one lost in- or out-edge,
        conditions in ``lost`` order, then layer order and idx. Memory: two float64 arrays over
        all neurons per condition.
    """
    layers = manifest.layers
    offsets = np.cumsum([0] + [la.n_neurons for la in layers])
    layer_at = {la.name: k for k, la in enumerate(layers)}
    total = int(offsets[-1])
    best = {c: {side: np.full(total, -np.inf) for side in ("in", "out")} for c in lost}
    at = 0
    cols = ["pre_layer", "pre_idx", "post_layer", "post_idx", "z"]
    for batch in pq.ParquetFile(edge_file).iter_batches(batch_size=_BATCH_ROWS, columns=cols):
        n = batch.num_rows
        flat = {"out": offsets[_layer_codes(batch.column("pre_layer"), layer_at)]
                + batch.column("pre_idx").to_numpy().astype(np.int64),
                "in": offsets[_layer_codes(batch.column("post_layer"), layer_at)]
                + batch.column("post_idx").to_numpy().astype(np.int64)}
        z = batch.column("z").to_numpy()
        for condition, mask in lost.items():
            rows = mask[at:at + n]
            for side, index in flat.items():
                np.maximum.at(best[condition][side], index[rows], z[rows])
        at += n
    names = np.array([la.name for la in layers], dtype=object)
    parts = []
    for condition, sides in best.items():
        has = np.flatnonzero(np.isfinite(sides["in"]) | np.isfinite(sides["out"]))
        layer_of = np.searchsorted(offsets, has, side="right") - 1
        parts.append(pd.DataFrame({
            "baseline": baseline, "condition": condition, "layer": names[layer_of],
            "idx": has - offsets[layer_of],
            "in_lost_max_z": np.where(np.isfinite(sides["in"][has]), sides["in"][has], np.nan),
            "out_lost_max_z": np.where(np.isfinite(sides["out"][has]), sides["out"][has], np.nan)},
            columns=LOSS_COLUMNS))
    return (pd.concat(parts, ignore_index=True) if parts
            else pd.DataFrame({c: [] for c in LOSS_COLUMNS}, columns=LOSS_COLUMNS))
