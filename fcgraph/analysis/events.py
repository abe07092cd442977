"""Rare high-cofiring events and per-image activity features.

A neuron's high-cofiring events are the bins where its aggregate cofiring k(t) is at or above
the ``percentile`` (default 95th) of its own k distribution (and at least 1, so that a group that
is mostly silent does not make every bin an event). For decoding, every image gets two features
per neuron, over the same images (so both read-outs have the same number of samples):

- ``event``: the neuron's spikes during its event bins of that image (0 when it has none);
- ``average``: the neuron's spikes over all T bins of that image (its average activity x T).

Mutual information (bits) between the class and one neuron's feature is the plug-in estimate
(:func:`mi_bits`) with a label-shuffle baseline (its mean over shuffles is
the estimator's bias). Labels and features are non-negative integers.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _h(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def mi_bits(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information (bits) of two non-negative int arrays of equal length (the
    same value as ``sklearn.metrics.mutual_info_score`` / ln 2, from one ``bincount``)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.size == 0:
        return 0.0
    nb = int(b.max()) + 1
    joint = np.bincount(a * nb + b, minlength=(int(a.max()) + 1) * nb).astype(float)
    pj = joint.reshape(-1, nb)
    return max(_h(pj.sum(1)) + _h(pj.sum(0)) - _h(joint), 0.0)


def event_threshold(k: np.ndarray, percentile: float = 95.0) -> int:
    """Smallest k counted as an event: ceil(percentile of k), at least 1."""
    return max(int(np.ceil(np.percentile(k, percentile))), 1) if k.size else 1


def image_features(k: np.ndarray, y: np.ndarray, T: int,
                   threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(event spikes, all spikes, event bins) per image, each int64 (n_images,).

    ``k``: int (L,) aggregate cofiring; ``y``: bool (L,) spikes; L = T x n_images.
    """
    M = k.size // T
    ev = (k[: M * T] >= threshold).reshape(M, T)
    yy = np.asarray(y[: M * T], dtype=bool).reshape(M, T)
    return (ev & yy).sum(1).astype(np.int64), yy.sum(1).astype(np.int64), ev.sum(1).astype(np.int64)


def mutual_information(labels: np.ndarray, feature: np.ndarray, *, n_shuffle: int = 20,
                       rng: np.random.Generator | None = None) -> dict[str, float]:
    """Plug-in MI (bits) between ``labels`` and a discrete ``feature`` (both (n,)), the mean MI
    over ``n_shuffle`` label shuffles (bias / chance level) and ``mi_corrected`` = mi - shuffle."""
    rng = rng if rng is not None else np.random.default_rng(0)
    mi = mi_bits(labels, feature)
    sh = [mi_bits(rng.permutation(labels), feature) for _ in range(n_shuffle)]
    shm = float(np.mean(sh)) if sh else 0.0
    return {"mi": float(mi), "mi_shuffle": shm, "mi_corrected": float(mi - shm)}


def event_summary(k: np.ndarray, y: np.ndarray, labels: np.ndarray, T: int, *,
                  percentile: float = 95.0, n_shuffle: int = 10,
                  rng: np.random.Generator | None = None) -> tuple[dict[str, Any], np.ndarray,
                                                                    np.ndarray]:
    """Events of one neuron: threshold, event fraction (rarity), P(spike | event) against
    P(spike), and MI of the class with the event and average features. Also returns the two
    per-image features (event, average) for population decoding."""
    thr = event_threshold(k, percentile)
    ev_sp, all_sp, ev_bins = image_features(k, y, T, thr)
    n_ev = int(ev_bins.sum())
    mi_e = mutual_information(labels, ev_sp, n_shuffle=n_shuffle, rng=rng)
    mi_a = mutual_information(labels, all_sp, n_shuffle=n_shuffle, rng=rng)
    out = {"event_threshold": thr, "event_fraction": n_ev / max(k.size, 1),
           "images_with_event": float((ev_bins > 0).mean()) if ev_bins.size else 0.0,
           "p_spike_event": float(ev_sp.sum() / n_ev) if n_ev else None,
           "p_spike": float(all_sp.sum() / max(k.size, 1)),
           "mi_event": mi_e["mi_corrected"], "mi_event_raw": mi_e["mi"],
           "mi_average": mi_a["mi_corrected"], "mi_average_raw": mi_a["mi"],
           "mi_shuffle": max(mi_e["mi_shuffle"], mi_a["mi_shuffle"])}
    return out, ev_sp, all_sp
