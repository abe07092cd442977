"""Rare high-cofiring events and per-image activity features.

A neuron's high-cofiring events are the bins where its aggregate cofiring k(t) is at or above
the ``percentile`` (default 95th) of its k *at the same time step* (each of the T steps has its
own threshold, at least 1): every step has a different share of spikes in a spiking network
(the first is nearly silent), and one threshold over all bins would make events a property of
the time step. For decoding, every image gets these features per neuron, over the same images
(so all read-outs have the same samples):

- ``event``: the neuron's spikes during its event bins of that image (0 when it has none);
- ``average``: the neuron's spikes over all T bins of that image (its average activity x T);
- ``matched``: its spikes thinned at random to as many as fell in events (each spike kept with
  probability event spikes / spikes): the same neuron, the same number of spikes, no events;
- ``random``: its spikes in as many bins, drawn at random over all bins, as it has event bins;
- ``nonevent``: its spikes outside its event bins (``average`` - ``event``).

``event`` against ``average`` compares a subset with its superset, so only ``matched`` and
``random`` say whether events carry more class information than other spikes or bins.

Mutual information (bits) between the class and one neuron's feature is bias-corrected
(:func:`fcgraph.analysis.information.mutual_information`, quadratic extrapolation, with a CI
over images); the plug-in value and its label-shuffle level (the plug-in's bias when there is
no information) are kept beside it. Labels and features are non-negative integers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.analysis.information import MI_BOOT, mutual_information, plugin_mi

#: event percentiles swept for the trained and control networks (event - count-matched read-out)
SWEEP_PERCENTILES = (80.0, 90.0, 95.0, 99.0)


def event_threshold(k: np.ndarray, percentile: float = 95.0) -> int:
    """Smallest k counted as an event: ceil(percentile of k), at least 1."""
    return max(int(np.ceil(np.percentile(k, percentile))), 1) if k.size else 1


def step_thresholds(k: np.ndarray, T: int, percentile: float = 95.0) -> np.ndarray:
    """Event threshold of each time step: :func:`event_threshold` of k at that step over all
    images, int64 (T,). ``k``: int (L,), L = T x n_images."""
    M = k.size // T
    steps = np.asarray(k[: M * T]).reshape(M, T)
    return np.array([event_threshold(steps[:, t], percentile) for t in range(T)], dtype=np.int64)


def image_features(k: np.ndarray, y: np.ndarray, T: int,
                   threshold: int | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(event spikes, all spikes, event bins) per image, each int64 (n_images,).

    ``k``: int (L,) aggregate cofiring; ``y``: bool (L,) spikes; L = T x n_images;
    ``threshold``: one int, or one per time step (T,).
    """
    M = k.size // T
    ev = np.asarray(k[: M * T]).reshape(M, T) >= np.asarray(threshold)
    yy = np.asarray(y[: M * T], dtype=bool).reshape(M, T)
    return (ev & yy).sum(1).astype(np.int64), yy.sum(1).astype(np.int64), ev.sum(1).astype(np.int64)


def matched_features(k: np.ndarray, y: np.ndarray, T: int, thresholds: np.ndarray,
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The per-image features of the module docstring (event, average, matched, random,
    nonevent), each int64 (n_images,). ``thresholds``: int64 (T,) from :func:`step_thresholds`."""
    M = k.size // T
    ev_sp, all_sp, ev_bins = image_features(k, y, T, thresholds)
    n_ev_bins, n_ev_sp, n_sp = int(ev_bins.sum()), int(ev_sp.sum()), int(all_sp.sum())
    keep = n_ev_sp / n_sp if n_sp else 0.0
    matched = rng.binomial(all_sp, keep).astype(np.int64)
    bins = np.zeros(M * T, dtype=bool)
    bins[rng.choice(M * T, size=min(n_ev_bins, M * T), replace=False)] = True
    spikes = np.asarray(y[: M * T], dtype=bool)
    random = (bins & spikes).reshape(M, T).sum(1).astype(np.int64)
    return {"event": ev_sp, "average": all_sp, "matched": matched, "random": random,
            "nonevent": all_sp - ev_sp}


def event_summary(k: np.ndarray, y: np.ndarray, labels: np.ndarray, T: int, *,
                  percentile: float = 95.0, n_shuffle: int = 10, n_boot: int = 0,
                  rng: np.random.Generator | None = None
                  ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Events of one neuron: per-step thresholds (``event_threshold`` is their mean), event
    fraction (rarity), the largest share of its events at one time step, P(spike | event)
    against P(spike), and the MI (bits) of the class with the event and average features.

    ``mi_event`` / ``mi_average`` are bias-corrected (``mi_estimator``), with CIs
    ``*_lo`` / ``*_hi`` from min(``n_boot``, ``MI_BOOT``) class-stratified image resamples
    (None without), and
    ``*_plugin`` their plug-in values; ``mi_shuffle`` is the larger of the two features' mean
    plug-in MI over ``n_shuffle`` label shuffles. Also returns the per-image features of
    :func:`matched_features` for population decoding.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    thresholds = step_thresholds(k, T, percentile)
    feats = matched_features(k, y, T, thresholds, rng)
    M = k.size // T
    per_step = (np.asarray(k[: M * T]).reshape(M, T) >= thresholds).sum(0)
    n_ev = int(per_step.sum())
    out: dict[str, Any] = {
        "event_threshold": float(thresholds.mean()), "event_fraction": n_ev / max(k.size, 1),
        "event_step_share_max": float(per_step.max() / n_ev) if n_ev else None,
        "p_spike_event": float(feats["event"].sum() / n_ev) if n_ev else None,
        "p_spike": float(feats["average"].sum() / max(k.size, 1))}
    shuffles = []
    for name in ("event", "average"):
        mi = mutual_information(labels, feats[name], n_boot=min(n_boot, MI_BOOT), rng=rng)
        out.update({f"mi_{name}": mi["mi"], f"mi_{name}_lo": mi["mi_lo"],
                    f"mi_{name}_hi": mi["mi_hi"], f"mi_{name}_plugin": mi["mi_plugin"]})
        out["mi_estimator"] = mi["estimator"]
        sh = [plugin_mi(rng.permutation(labels), feats[name]) for _ in range(n_shuffle)]
        shuffles.append(float(np.mean(sh)) if sh else 0.0)
    out["mi_shuffle"] = max(shuffles)
    return out, feats
