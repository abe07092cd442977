"""1FC groups from an edge table: for each post neuron, its significant in-edges from a pre layer.

Edge tables follow :mod:`fcgraph.contract` (one row per significant pair). Groups are read one
layer pair at a time (Parquet row-group filters), so memory is bounded by that pair's edges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq


def read_pair_edges(path: Path, pre_layer: str, post_layer: str) -> tuple[np.ndarray, np.ndarray]:
    """(pre_idx, post_idx) int64 arrays of the edges ``pre_layer`` -> ``post_layer`` in ``path``."""
    table = pq.read_table(path, columns=["pre_idx", "post_idx"],
                          filters=[("pre_layer", "=", pre_layer), ("post_layer", "=", post_layer)])
    return (table.column("pre_idx").to_numpy().astype(np.int64),
            table.column("post_idx").to_numpy().astype(np.int64))


class Groups:
    """The 1FC groups of every neuron of a post layer (CSR: post neuron -> sorted pre indices).

    ``sizes``: int64 (n_post,) group size of every post neuron (0 when it has no group).
    """

    def __init__(self, pre_idx: np.ndarray, post_idx: np.ndarray, n_post: int) -> None:
        order = np.lexsort((pre_idx, post_idx))
        self.pre = np.asarray(pre_idx, dtype=np.int64)[order]
        self.sizes = np.bincount(np.asarray(post_idx, dtype=np.int64), minlength=n_post)[:n_post]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])

    @classmethod
    def from_file(cls, path: Path, pre_layer: str, post_layer: str, n_post: int) -> Groups:
        return cls(*read_pair_edges(path, pre_layer, post_layer), n_post)

    def members(self, j: int) -> np.ndarray:
        """Pre indices (int64, ascending) of post neuron ``j``'s group."""
        return self.pre[self.offsets[j]:self.offsets[j + 1]]

    @property
    def n_edges(self) -> int:
        return int(self.pre.size)


def size_distribution(sizes: np.ndarray) -> dict[str, Any]:
    """Summary of group sizes over all post neurons of a layer: n, n with a group, mean, median,
    quartiles, max, and a histogram (``hist_edges`` / ``hist_counts``, 20 bins over 0..max)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    nz = sizes[sizes > 0]
    hist, edges = np.histogram(sizes, bins=min(20, int(sizes.max(initial=0)) + 1),
                               range=(0, max(int(sizes.max(initial=0)), 1)))
    q = np.percentile(sizes, [25, 50, 75]) if sizes.size else [0, 0, 0]
    return {"n_neurons": int(sizes.size), "n_with_group": int(nz.size),
            "fraction_with_group": float(nz.size / sizes.size) if sizes.size else 0.0,
            "mean": float(sizes.mean()) if sizes.size else 0.0, "q25": float(q[0]),
            "median": float(q[1]), "q75": float(q[2]), "max": int(sizes.max(initial=0)),
            "hist_edges": edges.tolist(), "hist_counts": hist.tolist()}
