"""Image-block jackknife of the edge statistics (findings 1 and 4).

An edge is decided on all the images at once, so two pairs, two neurons or two layer pairs are
not independent evidence: they share the images. The uncertainty of an edge statistic therefore
comes from resampling images, here by the **delete-a-group jackknife**: the images are split
into ``G`` class-stratified seeded groups (:func:`image_groups`; one split per analysis, the
same in every layer pair, condition and network, so the replicates are paired across
conditions and joint across layers). Replicate g reruns fc's rule as the run applied it
(:func:`fcgraph.analysis.image_subsets.edges_on_images`) on every image but group g, for a
seeded sample of post neurons (:func:`block_sample`) against all pre neurons.

A statistic computed on all images (theta) and on each replicate (theta_g) gets the jackknife
standard error sqrt((G - 1) / G * sum_g (theta_g - mean theta_g)^2) and the 95% interval
theta +- t(G - 1) SE (:func:`jackknife`). A statistic pooled over layer pairs is pooled within
each replicate first, so the dependence between layers through their shared images is carried
into its interval. Deleting a whole group (about n / G images) is the delete-d jackknife, which
stays consistent for statistics that are not smooth, like counts of thresholded pairs (Shao & Wu
1989, Ann. Stat. 17:1176).

The rule also runs on each **half** of the images (the even groups, the odd groups:
:func:`image_halves`). A statistic computed on two independent halves, S_A and S_B, differs by
about 2 SE of the whole-sample statistic (each half has twice its variance), so |S_A - S_B| / 2
is a second, split-half estimate of that SE, and a claim that holds must hold in each half.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from fcgraph.analysis.image_subsets import (
    edges_on_images,
    fc_params,
    stratified_groups,
    trains_on_images,
)
from fcgraph.analysis.principles import like_to_like, unit_profiles


def image_groups(labels: np.ndarray, n_groups: int, seed: int) -> np.ndarray:
    """The group (0 .. n_groups - 1) of every image: int64 (n_images,). Each class's images are
    shuffled (seeded) and dealt round-robin, continuing from class to class, so every group
    holds each class about equally and the group sizes differ by at most one."""
    return stratified_groups(labels, n_groups, [seed, 23])


def image_halves(groups: np.ndarray) -> list[np.ndarray]:
    """The two halves of the images for the split-half spread: the images of the even groups
    and those of the odd groups of :func:`image_groups` (so each half holds every class about
    equally). int64 image indices, ascending; empty halves with fewer than 2 groups."""
    groups = np.asarray(groups, dtype=np.int64)
    if groups.size == 0 or groups.max() < 1:
        return [np.zeros(0, np.int64), np.zeros(0, np.int64)]
    return [np.flatnonzero(groups % 2 == h).astype(np.int64) for h in (0, 1)]


def block_sample(n_post: int, max_neurons: int | None, seed: int, layer_order: int) -> np.ndarray:
    """The post neurons whose edges are resampled: every one when there are at most
    ``max_neurons``, else a seeded uniform sample (stream [seed, 29, layer_order]) -- not
    conditioned on group size or spikes, so an edge rate over it estimates the layer's.
    int64, ascending."""
    if max_neurons is None or n_post <= max_neurons:
        return np.arange(n_post, dtype=np.int64)
    rng = np.random.default_rng([seed, 29, layer_order])
    return np.sort(rng.choice(n_post, size=max_neurons, replace=False)).astype(np.int64)


def _keys(edges: Any, n_pre: int) -> np.ndarray:
    return np.unique(edges["post_idx"].to_numpy(np.int64) * n_pre
                     + edges["pre_idx"].to_numpy(np.int64))


def edge_replicates(rec: Any, condition: str, pre: str, post: str, post_idx: np.ndarray,
                    groups: np.ndarray, *, halves: bool = True) -> dict[str, Any]:
    """fc's rule on all images and on each jackknife replicate (all images but one group), for
    the post neurons ``post_idx`` (int64) against every pre neuron; ``groups``: int64
    (n_images,) from :func:`image_groups`.

    Returns the part (JSON-able): ``post_idx``, ``n_pre``, ``n_groups``, ``edges`` (sorted
    int64 keys post_idx x n_pre + pre_idx of the edges on all images), ``tested`` (pairs
    tested on all images), ``replicates``: per group g, ``tested`` and the edges as a
    difference from all images' (``dropped``: positions in ``edges``; ``added``: keys),
    ``like_to_like``: the like-to-like of the edges (:mod:`fcgraph.analysis.principles`) on
    all images, then on each replicate's images (None where not measurable), and with
    ``halves`` (finding 4's edge sets; not the other networks') ``halves``: fc's rule on each
    half of the images (:func:`image_halves`), ``edges`` and ``tested``."""
    post_idx = np.asarray(post_idx, dtype=np.int64)
    n_pre = rec.layer(pre).n_neurons
    n_groups = int(groups.max()) + 1 if groups.size else 0

    def run(images: np.ndarray) -> tuple[np.ndarray, int]:
        if post_idx.size == 0:
            return np.zeros(0, np.int64), 0
        edges, report = edges_on_images(rec, condition, pre, post, images, post_idx)
        return _keys(edges, n_pre), int(report["tested"])

    signal = _SignalCorrelation(rec, condition, pre, post, post_idx)
    full, tested = run(np.arange(groups.size))
    l2l = [signal(np.arange(groups.size), full)]
    reps = []
    for g in range(n_groups):
        kept = np.flatnonzero(groups != g)
        keys, t = run(kept)
        l2l.append(signal(kept, keys))
        reps.append({"tested": t,
                     "dropped": np.flatnonzero(~np.isin(full, keys, assume_unique=True)),
                     "added": np.setdiff1d(keys, full, assume_unique=True)})
    part = {"post_idx": post_idx, "n_pre": n_pre, "n_groups": n_groups, "edges": full,
            "tested": tested, "replicates": reps, "like_to_like": l2l}
    if halves:
        part["halves"] = []
        for images in image_halves(groups):
            keys, t = run(images) if images.size else (np.zeros(0, np.int64), 0)
            part["halves"].append({"edges": keys, "tested": t})
    return part


class _SignalCorrelation:
    """Like-to-like (:func:`fcgraph.analysis.principles.like_to_like`) of the block sample's
    edges on a subset of the images: class means, tested neurons (fc's ``min_spikes``) and
    signal correlations all from the kept images only."""

    def __init__(self, rec: Any, condition: str, pre: str, post: str,
                 post_idx: np.ndarray) -> None:
        T, n_images = rec.T, rec.n_images
        images = np.arange(n_images)

        def counts(layer: str, rows: np.ndarray | None) -> np.ndarray:
            trains = trains_on_images(rec.packed(condition, layer), images, T, rows)
            return trains.reshape(trains.shape[0], n_images, T).sum(axis=2, dtype=np.float64)

        self.pre_counts = counts(pre, None)
        self.post_counts = counts(post, post_idx) if post_idx.size else np.zeros((0, n_images))
        self.labels = np.asarray(rec.labels, dtype=np.int64)
        self.post_idx, self.n_pre = post_idx, rec.layer(pre).n_neurons
        self.min_spikes = fc_params(rec).min_spikes

    def __call__(self, images: np.ndarray, keys: np.ndarray) -> float | None:
        if self.post_idx.size == 0:
            return None
        onehot = np.zeros((images.size, int(self.labels.max()) + 1))
        onehot[np.arange(images.size), self.labels[images]] = 1.0
        per_class = onehot.sum(axis=0)
        per_class[per_class == 0] = np.nan
        a, b = self.pre_counts[:, images], self.post_counts[:, images]
        u_pre, u_post = unit_profiles(a @ onehot / per_class), unit_profiles(b @ onehot / per_class)
        post_pos = np.searchsorted(self.post_idx, keys // self.n_pre)
        return like_to_like(u_pre, u_post, a.sum(axis=1) >= self.min_spikes,
                            b.sum(axis=1) >= self.min_spikes, keys % self.n_pre,
                            post_pos)["like_to_like"]


def replicate_keys(part: dict[str, Any]) -> list[np.ndarray]:
    """The edge keys on all images, then on each replicate (sorted int64), from a part of
    :func:`edge_replicates`."""
    full = np.asarray(part["edges"], dtype=np.int64)
    out = [full]
    for rep in part["replicates"]:
        keep = np.ones(full.size, dtype=bool)
        keep[np.asarray(rep["dropped"], dtype=np.int64)] = False
        out.append(np.union1d(full[keep], np.asarray(rep["added"], dtype=np.int64)))
    return out


def neuron_jaccard(a: np.ndarray, b: np.ndarray, n_pre: int,
                   min_group: int | None = None) -> float | None:
    """Mean over post neurons of the Jaccard of their in-edge sets in ``a`` and ``b`` (edge
    keys): over every post neuron with an in-edge in either; or, with ``min_group``, over those
    whose in-edge set in ``a`` (the baseline) is a group of at least ``min_group`` members, each
    weighted by that group's size, so every member of a baseline group counts once and a neuron
    with a few chance edges (which any re-measurement flips) does not outweigh a real group.
    None without such a neuron."""
    post_a, post_b = a // n_pre, b // n_pre
    shared = np.intersect1d(a, b, assume_unique=True) // n_pre
    posts, inv = np.unique(np.concatenate([post_a, post_b, shared]), return_inverse=True)
    n = posts.size
    size_a = np.bincount(inv[:post_a.size], minlength=n)
    size_b = np.bincount(inv[post_a.size:post_a.size + post_b.size], minlength=n)
    both = np.bincount(inv[post_a.size + post_b.size:], minlength=n)
    counted = size_a >= (min_group or 0)
    if not counted.any():
        return None
    return float(np.average(both[counted] / (size_a + size_b - both)[counted],
                            weights=size_a[counted] if min_group else None))


def edge_jaccard(a: np.ndarray, b: np.ndarray) -> float | None:
    """|a n b| / |a u b| of two edge-key sets (None when both are empty)."""
    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    return inter / union if union else None


def half_keys(part: dict[str, Any]) -> list[np.ndarray]:
    """The edge keys on each half of the images (sorted int64; :func:`image_halves`), from a
    part of :func:`edge_replicates`; empty for a part without halves."""
    return [np.asarray(h["edges"], dtype=np.int64) for h in part.get("halves", [])]


def network_summary(part: dict[str, Any], min_group: int | None = None) -> dict[str, Any]:
    """A network's (or condition's) edge counts on its block sample: ``edges`` and ``tested``,
    and the like-to-like of its edges (``like_to_like``, None where fewer than
    :data:`~fcgraph.analysis.principles.MIN_EDGES` edges): lists of length G + 1 (all images
    first, then each replicate). ``split_half_neuron_jaccard``: the neuron Jaccard
    (:func:`neuron_jaccard`, ``min_group``) of the in-edges on one half of the images with those
    on the other -- what re-measuring the same network on other images changes (None without
    halves)."""
    keys = replicate_keys(part)
    halves = half_keys(part)
    return {"n_groups": int(part["n_groups"]), "n_sampled": len(part["post_idx"]),
            "like_to_like": part.get("like_to_like"), "edges": [int(k.size) for k in keys],
            "tested": [int(part["tested"])] + [int(r["tested"]) for r in part["replicates"]],
            "split_half_neuron_jaccard": neuron_jaccard(*halves, int(part["n_pre"]), min_group)
            if len(halves) == 2 else None}


def condition_summary(part: dict[str, Any], clean: dict[str, Any],
                      min_group: int | None = None) -> dict[str, Any]:
    """:func:`network_summary` of a condition, with its sampled neurons' in-edges compared
    with clean's on the same images: ``neuron_jaccard`` (over the neurons whose clean group on
    those images has at least ``min_group`` members, :func:`neuron_jaccard`) and ``jaccard``
    (lists of length G + 1, as ``edges``), and ``neuron_jaccard_halves``: the neuron Jaccard on
    each half of the images (two values; empty without halves)."""
    if list(part["post_idx"]) != list(clean["post_idx"]) or part["n_groups"] != clean["n_groups"]:
        raise ValueError("a condition's block sample differs from clean's")
    n_pre = int(part["n_pre"])
    pairs = list(zip(replicate_keys(clean), replicate_keys(part), strict=True))
    halves = list(zip(half_keys(clean), half_keys(part), strict=True))
    return {**network_summary(part, min_group),
            "neuron_jaccard": [neuron_jaccard(a, b, n_pre, min_group) for a, b in pairs],
            "jaccard": [edge_jaccard(a, b) for a, b in pairs],
            "neuron_jaccard_halves": [neuron_jaccard(a, b, n_pre, min_group) for a, b in halves]}


def jackknife(values: Any) -> dict[str, Any]:
    """Delete-a-group jackknife of a statistic: ``values`` = [on all images, on replicate 1,
    ..., on replicate G]. Returns ``value`` (on all images), ``se`` and the 95% ``lo`` / ``hi``
    (value +- t(G - 1) SE); se, lo and hi are None when a value is missing or G < 2."""
    v = np.asarray([np.nan if x is None else x for x in values], dtype=float)
    value = float(v[0]) if v.size and np.isfinite(v[0]) else None
    reps = v[1:]
    if value is None or reps.size < 2 or not np.all(np.isfinite(reps)):
        return {"value": value, "se": None, "lo": None, "hi": None, "n_groups": int(reps.size)}
    g = reps.size
    se = float(np.sqrt((g - 1) / g * np.sum((reps - reps.mean()) ** 2)))
    half = float(stats.t.ppf(0.975, g - 1)) * se
    return {"value": value, "se": se, "lo": value - half, "hi": value + half, "n_groups": g}
