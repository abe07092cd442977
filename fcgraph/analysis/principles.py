"""Named principles of cortical functional connectivity, measured on one network's edges of one
layer pair (finding 1: "principles of cortical functional connectivity hold").

Each statistic is computed from the network's own significant edges and its own spikes, over
the pairs fc tested (both neurons with at least fc's ``min_spikes`` spikes), and means the same
in a trained network and in its controls, so that finding 1 can contrast them:

``like_to_like``
    Mean signal correlation of the edges minus the mean over all tested pairs. A pair's signal
    correlation is the Pearson correlation, across classes, of the two neurons' class-mean
    spike counts per image (neurons whose class means are all equal are left out). Above 0:
    edges join neurons with similar class preferences.
``rf_enrichment``
    Conv -> conv layer pairs only: log2 of (the share of edges whose pre neuron lies under the
    post neuron's 3 x 3 kernel footprint) / (the share of tested pairs that do), each smoothed
    by 1/2. Above 0: edges fall off with receptive-field distance.
``strength_tail``
    Share of the edges' total strength (the edge ``value``) held by their strongest 10 %. 0.1
    when every edge is equally strong; larger for heavy-tailed strengths.
``hub_share``
    Share of the edges that leave the 10 % of tested pre neurons with the most out-edges. Near
    0.1 for edges spread evenly; larger when a few hubs send most of them.
``in_degree_cv``
    Coefficient of variation of the in-degree (1FC group size) over the tested post neurons.

Statistics need at least :data:`MIN_EDGES` edges (else None).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

#: the principles, in the order reports list them
PRINCIPLES = ("like_to_like", "rf_enrichment", "strength_tail", "hub_share", "in_degree_cv")
#: principles whose value itself must be above 0 (the others are judged against the controls)
SIGNED = ("like_to_like", "rf_enrichment")
#: fewest edges a layer pair needs for its statistics
MIN_EDGES = 10
#: the share of strongest edges / busiest pre neurons of strength_tail and hub_share
TOP_SHARE = 0.10
#: rows of a layer unpacked at a time
CHUNK_ROWS = 1024


def class_means(spikes: Any, labels: np.ndarray, T: int) -> np.ndarray:
    """Class-mean spike counts per image: float64 (n_neurons, n_classes).

    ``spikes``: a :class:`~fcgraph.spikes.SpikeMatrix` (n_neurons, L = T x n_images);
    ``labels``: int (n_images,), classes 0 .. n_classes-1.
    """
    labels = np.asarray(labels, dtype=np.int64)
    n_images = labels.size
    onehot = np.zeros((n_images, int(labels.max()) + 1))
    onehot[np.arange(n_images), labels] = 1.0
    per_class = onehot.sum(axis=0)
    per_class[per_class == 0] = np.nan
    out = np.empty((spikes.n_neurons, onehot.shape[1]))
    for start in range(0, spikes.n_neurons, CHUNK_ROWS):
        rows = spikes.rows(start, start + CHUNK_ROWS)
        counts = rows.reshape(rows.shape[0], n_images, T).sum(axis=2, dtype=np.float64)
        out[start:start + rows.shape[0]] = counts @ onehot / per_class
    return out


def unit_profiles(means: np.ndarray) -> np.ndarray:
    """Rows centred across classes and scaled to unit norm (so a dot product is a Pearson
    correlation); NaN rows where every class mean is the same (or a class is absent)."""
    centred = means - np.nanmean(means, axis=1, keepdims=True)
    norm = np.sqrt(np.sum(centred**2, axis=1, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = centred / norm
    out[~np.isfinite(out).all(axis=1)] = np.nan
    return out


def like_to_like(u_pre: np.ndarray, u_post: np.ndarray, tested_pre: np.ndarray,
                 tested_post: np.ndarray, pre_idx: np.ndarray, post_idx: np.ndarray
                 ) -> dict[str, float | None]:
    """Mean signal correlation of the edges, of the tested pairs, and their difference.

    ``u_pre`` (n_pre, C), ``u_post`` (n_post, C): :func:`unit_profiles`; ``tested_*``: bool
    per neuron; ``pre_idx``, ``post_idx``: the edges. The tested pairs' mean is exact: the
    mean of u_i . v_j over all pairs is (sum_i u_i) . (sum_j v_j) / (n_i n_j).
    """
    ok_pre = tested_pre & np.isfinite(u_pre).all(axis=1)
    ok_post = tested_post & np.isfinite(u_post).all(axis=1)
    keep = ok_pre[pre_idx] & ok_post[post_idx]
    n_pre, n_post = int(ok_pre.sum()), int(ok_post.sum())
    if keep.sum() < MIN_EDGES or n_pre == 0 or n_post == 0:
        return {"like_to_like": None, "signal_corr_edges": None, "signal_corr_tested": None}
    edges = float(np.mean(np.einsum("ec,ec->e", u_pre[pre_idx[keep]], u_post[post_idx[keep]])))
    tested = float(u_pre[ok_pre].sum(axis=0) @ u_post[ok_post].sum(axis=0) / (n_pre * n_post))
    return {"like_to_like": edges - tested, "signal_corr_edges": edges,
            "signal_corr_tested": tested}


def rf_enrichment(footprint: np.ndarray | None, tested_pre: np.ndarray, tested_post: np.ndarray,
                  pre_idx: np.ndarray, post_idx: np.ndarray) -> dict[str, float | None]:
    """log2 enrichment of the edges under the kernel footprint (module doc).

    ``footprint``: bool (H1 W1, H2 W2) of :func:`fcgraph.fc.pair.kernel_footprint`, or None
    (not a conv -> conv pair: every value None).
    """
    none = {"rf_enrichment": None, "rf_edge_share": None, "rf_pair_share": None}
    if footprint is None or pre_idx.size < MIN_EDGES:
        return none
    p1, p2 = footprint.shape
    at_pre = np.bincount(np.flatnonzero(tested_pre) % p1, minlength=p1).astype(np.float64)
    at_post = np.bincount(np.flatnonzero(tested_post) % p2, minlength=p2).astype(np.float64)
    pairs = float(at_pre.sum() * at_post.sum())
    if pairs == 0:
        return none
    pairs_in = float(at_pre @ footprint.astype(np.float64) @ at_post)
    edges_in = int(footprint[pre_idx % p1, post_idx % p2].sum())
    edge_share = (edges_in + 0.5) / (pre_idx.size + 1)
    pair_share = (pairs_in + 0.5) / (pairs + 1)
    return {"rf_enrichment": float(math.log2(edge_share / pair_share)),
            "rf_edge_share": edges_in / pre_idx.size, "rf_pair_share": pairs_in / pairs}


def strength_tail(values: np.ndarray) -> float | None:
    """Share of the total of ``values`` held by the largest :data:`TOP_SHARE` of them."""
    values = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    total = float(values.sum())
    if values.size < MIN_EDGES or not total > 0:
        return None
    return float(values[:math.ceil(TOP_SHARE * values.size)].sum() / total)


def hub_share(pre_idx: np.ndarray, tested_pre: np.ndarray) -> float | None:
    """Share of the edges sent by the :data:`TOP_SHARE` of tested pre neurons with the most."""
    n_tested = int(tested_pre.sum())
    if pre_idx.size < MIN_EDGES or n_tested == 0:
        return None
    out_degree = np.sort(np.bincount(pre_idx, minlength=tested_pre.size)[tested_pre])[::-1]
    return float(out_degree[:math.ceil(TOP_SHARE * n_tested)].sum() / pre_idx.size)


def in_degree_cv(post_idx: np.ndarray, tested_post: np.ndarray) -> float | None:
    """Coefficient of variation of the in-degree over the tested post neurons."""
    degree = np.bincount(post_idx, minlength=tested_post.size)[tested_post].astype(np.float64)
    if post_idx.size < MIN_EDGES or degree.size == 0 or degree.mean() == 0:
        return None
    return float(degree.std() / degree.mean())


def principles(rec: Any, condition: str, pre: str, post: str, edge_file: Path,
               min_spikes: int) -> dict[str, Any]:
    """Every principle of one network's layer pair (module doc).

    Parameters
    ----------
    rec : Recording
        The recording (spikes, labels, layers).
    condition : str
        The network's condition (``clean`` for the trained network, a control's name).
    pre, post : str
        The layer pair.
    edge_file : Path
        The condition's edge table.
    min_spikes : int
        fc's ``min_spikes``: a neuron with fewer spikes was not tested.

    Returns
    -------
    dict
        The :data:`PRINCIPLES` (None where not measurable) and their parts: ``edges``,
        ``tested_pairs``, ``signal_corr_edges``, ``signal_corr_tested``, ``rf_edge_share``,
        ``rf_pair_share``.
    """
    from fcgraph.fc.pair import kernel_footprint

    table = pq.read_table(edge_file, columns=["pre_idx", "post_idx", "value"],
                          filters=[("pre_layer", "=", pre), ("post_layer", "=", post)])
    pre_idx = table.column("pre_idx").to_numpy().astype(np.int64)
    post_idx = table.column("post_idx").to_numpy().astype(np.int64)
    pre_sm, post_sm = rec.packed(condition, pre), rec.packed(condition, post)
    tested_pre = pre_sm.spike_counts() >= min_spikes
    tested_post = post_sm.spike_counts() >= min_spikes
    labels = np.asarray(rec.labels)
    u_pre = unit_profiles(class_means(pre_sm, labels, rec.T))
    u_post = unit_profiles(class_means(post_sm, labels, rec.T))
    return {"edges": int(pre_idx.size),
            "tested_pairs": int(tested_pre.sum()) * int(tested_post.sum()),
            **like_to_like(u_pre, u_post, tested_pre, tested_post, pre_idx, post_idx),
            **rf_enrichment(kernel_footprint(rec.layer(pre), rec.layer(post)), tested_pre,
                            tested_post, pre_idx, post_idx),
            "strength_tail": strength_tail(table.column("value").to_numpy()),
            "hub_share": hub_share(pre_idx, tested_pre),
            "in_degree_cv": in_degree_cv(post_idx, tested_post)}
