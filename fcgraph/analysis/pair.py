"""One layer pair of one condition, analysed with given 1FC groups: each sampled post neuron's
aggregate input k(t), input-output curve and fits, events and MI, and the layer's read-outs
decoded (:func:`analyse_pair`); the edge change from clean when asked. Orchestration, parts and
files are :mod:`fcgraph.analysis.run`'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fcgraph.analysis import decoding
from fcgraph.analysis.config import AnalysisConfig
from fcgraph.analysis.events import (
    SWEEP_PERCENTILES,
    event_summary,
    matched_features,
    step_thresholds,
)
from fcgraph.analysis.groups import Groups, read_pair_edges
from fcgraph.analysis.image_subsets import image_bins
from fcgraph.analysis.information import DEFAULT_ESTIMATOR
from fcgraph.analysis.io_curve import fit_io, gain_law, gain_vs_size, random_groups
from fcgraph.analysis.perturbations import compare_edges
from fcgraph.spikes import unpack

#: the layer read-outs decoded for a network (the trained one, and each control network with
#: its own groups): see :mod:`fcgraph.analysis.events`
READOUTS = ("event", "average", "matched", "random", "nonevent")
#: the read-outs decoded for a condition analysed with the clean groups
CONDITION_READOUTS = ("event", "average")

#: Columns of ``analysis/neurons.parquet`` (float columns are NaN where not computed).
NEURON_COLUMNS = ("condition", "layer", "idx", "pre_layer", "group_size", "analysed", "gain",
                  "gain_lo", "gain_hi", "threshold", "threshold_lo", "threshold_hi", "baseline",
                  "gain_norm", "threshold_norm", "r2", "r2_linear", "f_p", "threshold_linear",
                  "n_k", "event_threshold", "event_fraction", "p_spike_event", "p_spike",
                  "mi_event", "mi_event_lo", "mi_event_hi", "mi_event_plugin", "mi_average",
                  "mi_average_lo", "mi_average_hi", "mi_average_plugin", "mi_shuffle")
#: the per-neuron MI columns: bias-corrected values with their CIs, and the plug-in values
MI_COLUMNS = tuple(c for c in NEURON_COLUMNS if c.startswith("mi_"))


def sample_neurons(sizes: np.ndarray, counts: np.ndarray, config: AnalysisConfig,
                   layer_order: int) -> np.ndarray:
    """Eligible post neurons (group >= min_group, spikes >= min_spikes), a seeded sample of at
    most ``max_neurons`` of them (stream [seed, layer_order]), ascending."""
    eligible = np.flatnonzero((sizes >= config.min_group) & (counts >= config.min_spikes))
    if config.max_neurons is not None and eligible.size > config.max_neurons:
        rng = np.random.default_rng([config.seed, layer_order])
        eligible = np.sort(rng.choice(eligible, size=config.max_neurons, replace=False))
    return eligible


def aggregate_k(packed: np.ndarray, L: int, members: list[np.ndarray],
                chunk: int = 1024) -> np.ndarray:
    """k(t) of each group: int64 (n_groups, L), from bit-packed pre rows ``packed`` (n_pre,
    ceil(L/8)) and each group's pre indices ``members``, unpacking ``chunk`` rows at a time."""
    union = np.unique(np.concatenate(members)) if members else np.zeros(0, np.int64)
    k = np.zeros((len(members), L), dtype=np.float32)
    if union.size == 0:
        return k.astype(np.int64)
    rows = np.concatenate([np.full(m.size, i) for i, m in enumerate(members)])
    cols = np.searchsorted(union, np.concatenate(members))
    for start in range(0, union.size, chunk):
        sel = (cols >= start) & (cols < start + chunk)
        block = np.zeros((len(members), min(chunk, union.size - start)), dtype=np.float32)
        block[rows[sel], cols[sel] - start] = 1.0
        spikes = unpack(np.asarray(packed[union[start:start + chunk]]), L).astype(np.float32)
        k += block @ spikes
    return np.rint(k).astype(np.int64)


def analyse_pair(rec: Any, condition: str, pre: str, post: str, groups: Groups,
                  sampled: np.ndarray, config: AnalysisConfig, clean_edges: Any,
                  edge_path: Path | None, n_pairs: int | None, *, n_boot: int = 0,
                  readouts: tuple[str, ...] = READOUTS) -> dict[str, Any]:
    """One (condition, layer pair) with the given groups: neuron rows, curves (``n_boot``
    bootstrap resamples per fit), the layer's ``readouts`` decoded and, with ``edge_path``, the
    edge change from ``clean_edges``."""
    T, L = rec.T, rec.L
    labels = np.asarray(rec.labels)
    pre_packed = rec.packed(condition, pre)
    k = aggregate_k(pre_packed.packed, L, [groups.members(j) for j in sampled], config.chunk)
    post_sp = unpack(np.asarray(rec.packed(condition, post).packed[sampled]), L) \
        if sampled.size else np.zeros((0, L), dtype=bool)
    rng = np.random.default_rng([config.seed, 7, rec.layer(post).order])
    neurons, curves, estimator = [], {}, DEFAULT_ESTIMATOR
    features: dict[str, list[np.ndarray]] = {name: [] for name in readouts}
    for i, j in enumerate(sampled):
        size = int(groups.sizes[j])
        fit, curve = fit_io(k[i], post_sp[i], T, n_boot=n_boot, rng=rng)
        ev, feats = event_summary(k[i], post_sp[i], labels, T, percentile=config.percentile,
                                  n_boot=n_boot, rng=rng)
        estimator = ev["mi_estimator"]  # the same for every neuron: the same labels
        for name in readouts:
            features[name].append(feats[name])
        curves[int(j)] = curve
        fitted = len(curve["k"]) >= 3
        nan = float("nan")
        neurons.append({
            "condition": condition, "layer": post, "idx": int(j), "pre_layer": pre,
            "group_size": size, "analysed": True,
            "gain": fit.gain if fitted else nan, "gain_lo": fit.gain_lo, "gain_hi": fit.gain_hi,
            "threshold": fit.theta if fitted else nan, "threshold_lo": fit.theta_lo,
            "threshold_hi": fit.theta_hi, "baseline": fit.b if fitted else nan,
            "gain_norm": fit.gain * size if fitted else nan,
            "threshold_norm": fit.theta / size if fitted else nan,
            "r2": fit.r2 if fitted else nan, "r2_linear": fit.r2_linear if fitted else nan,
            "f_p": fit.f_p if fitted else nan,
            "threshold_linear": bool(fitted and fit.f_p < config.alpha and fit.gain > 0),
            "n_k": len(curve["k"]), "event_threshold": ev["event_threshold"],
            "event_fraction": ev["event_fraction"],
            "p_spike_event": ev["p_spike_event"] if ev["p_spike_event"] is not None else nan,
            "p_spike": ev["p_spike"],
            **{c: nan if ev[c] is None else ev[c] for c in MI_COLUMNS}})
    out: dict[str, Any] = {"condition": condition, "pre_layer": pre, "post_layer": post,
                           "n_sampled": int(sampled.size), "neurons": neurons,
                           "curves": {str(j): c for j, c in list(curves.items())[:12]}}
    frame = pd.DataFrame(neurons, columns=list(NEURON_COLUMNS))
    fitted = frame[np.isfinite(frame["gain"].astype(float))] if len(frame) else frame
    out["io"] = {
        "n_fitted": int(len(fitted)),
        "median_gain": _median(fitted, "gain"), "median_threshold": _median(fitted, "threshold"),
        "median_gain_norm": _median(fitted, "gain_norm"),
        "median_threshold_norm": _median(fitted, "threshold_norm"),
        "median_r2": _median(fitted, "r2"), "median_r2_linear": _median(fitted, "r2_linear"),
        "n_threshold_linear": int(fitted["threshold_linear"].sum()) if len(fitted) else 0,
        "gain_vs_size": gain_vs_size(fitted["group_size"], fitted["gain"], seed=config.seed)
        if len(fitted) else gain_vs_size([], []),
        "gain_norm_vs_size": gain_vs_size(fitted["group_size"], fitted["gain_norm"],
                                          seed=config.seed) if len(fitted) else gain_vs_size([], []),
        "gain_law": gain_law(fitted["group_size"], fitted["gain"]) if len(fitted)
        else gain_law([], []),
    }
    if readouts == READOUTS and sampled.size:  # a network: its groups against random ones
        out["io"]["random_groups"] = _random_group_fits(
            pre_packed, post_sp, groups.sizes[sampled], config, rec, post)
    out["events"] = {"median_event_fraction": _median(frame, "event_fraction"),
                     "mi_estimator": estimator,
                     **{f"median_{c}": _median(frame, c) for c in MI_COLUMNS
                        if not c.endswith(("_lo", "_hi"))}}
    readouts = {name: decoding.decode(np.stack(features[name], 1), labels, folds=config.folds,
                                      n_shuffle=config.n_shuffle, seed=config.seed)
                if sampled.size else {"accuracy": None, "correct": None} for name in readouts}
    diffs: dict[str, float | None] = {}
    for other, prefix in (("average", ""), ("matched", "matched_"), ("random", "random_")):
        if other not in readouts:
            continue
        cmp = decoding.compare(readouts["event"], readouts[other], seed=config.seed)
        diffs.update({prefix + key: value for key, value in cmp.items()})
    for d in readouts.values():
        c = d.get("correct")
        d["correct"] = c.astype(int).tolist() if c is not None else None
    out["decoding"] = {**readouts, **diffs}
    if readouts.keys() == set(READOUTS) and sampled.size:
        out["events"]["sweep"] = _percentile_sweep(k, post_sp, labels, T, config, rec.layer(post))
        out["events"]["heldout"] = _heldout_events(k, post_sp, labels, T, config, rec.layer(post))
    if edge_path is not None:
        other = read_pair_edges(edge_path, pre, post)
        pre_both, post_both = (_tested_in_both(rec, condition, layer) for layer in (pre, post))
        both = pre_both * post_both if n_pairs is None else min(n_pairs, pre_both * post_both)
        out["edges"] = compare_edges(clean_edges, other, rec.layer(pre).n_neurons,
                                     rec.layer(post).n_neurons, n_pairs=both,
                                     n_pre_tested=pre_both, seed=config.seed)
        out["edges"]["tested_in_both"] = both
    return out


def _percentile_sweep(k: np.ndarray, post_sp: np.ndarray, labels: np.ndarray, T: int,
                      config: AnalysisConfig, post: Any) -> list[dict[str, Any]]:
    """Event - count-matched decoding at each percentile of ``SWEEP_PERCENTILES``: per image
    differences (``difference`` list of -1/0/1) and their mean with a CI over images."""
    rows = []
    for pct in SWEEP_PERCENTILES:
        rng = np.random.default_rng([config.seed, 13, post.order, int(pct * 10)])
        feats = [matched_features(k[i], post_sp[i], T, step_thresholds(k[i], T, pct), rng)
                 for i in range(len(k))]
        event, matched = (decoding.decode(np.stack([f[name] for f in feats], 1), labels,
                                          folds=config.folds, n_shuffle=0, n_permutations=0,
                                          seed=config.seed) for name in ("event", "matched"))
        cmp = decoding.compare(event, matched, seed=config.seed)
        d = (None if event.get("correct") is None or matched.get("correct") is None
             else (event["correct"].astype(int) - matched["correct"].astype(int)).tolist())
        rows.append({"percentile": pct, "event_accuracy": event.get("accuracy"),
                     "matched_accuracy": matched.get("accuracy"), **cmp, "per_image": d})
    return rows


def heldout_split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(the images that set the event thresholds, the held-out images they are read on): each
    class's images split at random into halves (seeded; the second gets the odd one), as int64
    ascending image indices. The split depends on the labels and seed only, so it is the same in
    every layer."""
    rng = np.random.default_rng([seed, 19])
    first, second = [], []
    for c in np.unique(labels):
        images = rng.permutation(np.flatnonzero(labels == c))
        first.append(images[: images.size // 2])
        second.append(images[images.size // 2:])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


def _heldout_events(k: np.ndarray, post_sp: np.ndarray, labels: np.ndarray, T: int,
                    config: AnalysisConfig, post: Any) -> dict[str, Any]:
    """Event - count-matched decoding with events defined on other images: each neuron's step
    thresholds come from one half of the images (:func:`heldout_split`), and the features and
    the cross-validated read-outs from the other half only, so the events' definition never saw
    the images they are decoded on. Per held-out image differences (-1/0/1) as in the sweep."""
    fit_images, read_images = heldout_split(labels, config.seed)
    fit_bins, read_bins = image_bins(fit_images, T), image_bins(read_images, T)
    rng = np.random.default_rng([config.seed, 17, post.order])
    feats = [matched_features(k[i][read_bins], post_sp[i][read_bins], T,
                              step_thresholds(k[i][fit_bins], T, config.percentile), rng)
             for i in range(len(k))]
    event, matched = (decoding.decode(np.stack([f[name] for f in feats], 1), labels[read_images],
                                      folds=config.folds, n_shuffle=0, n_permutations=0,
                                      seed=config.seed) for name in ("event", "matched"))
    cmp = decoding.compare(event, matched, seed=config.seed)
    d = (None if event.get("correct") is None or matched.get("correct") is None
         else (event["correct"].astype(int) - matched["correct"].astype(int)).tolist())
    return {"percentile": config.percentile, "n_images": int(read_images.size),
            "event_accuracy": event.get("accuracy"), "matched_accuracy": matched.get("accuracy"),
            **cmp, "per_image": d}


def _tested_in_both(rec: Any, condition: str, layer: str) -> int:
    """Neurons of ``layer`` that fc tested (>= its ``min_spikes`` spikes) in clean and in
    ``condition``."""
    min_spikes = int(rec.manifest.fc.get("parameters", {}).get("min_spikes", 10))
    clean = rec.packed("clean", layer).spike_counts() >= min_spikes
    return int((clean & (rec.packed(condition, layer).spike_counts() >= min_spikes)).sum())


def _random_group_fits(pre_packed: Any, post_sp: np.ndarray, sizes: np.ndarray,
                       config: AnalysisConfig, rec: Any, post: str) -> dict[str, Any]:
    """The same curves and fits with, for each sampled post neuron (``post_sp`` bool
    (n_sampled, L)), a random group of its group's size drawn from the pre neurons with at least
    ``min_spikes`` spikes: threshold-linear count and gain law of these same-size controls."""
    rng = np.random.default_rng([config.seed, 11, rec.layer(post).order])
    candidates = np.flatnonzero(pre_packed.spike_counts() >= config.min_spikes)
    if candidates.size == 0:
        return {"n_fitted": 0, "n_threshold_linear": 0, "gain_law": gain_law([], [])}
    members = random_groups(sizes, candidates, rng)
    k = aggregate_k(pre_packed.packed, rec.L, members, config.chunk)
    fitted_sizes, gains, n_tl = [], [], 0
    for i, mem in enumerate(members):
        fit, curve = fit_io(k[i], post_sp[i], rec.T, n_boot=0)
        if len(curve["k"]) < 3:
            continue
        fitted_sizes.append(mem.size)
        gains.append(fit.gain)
        n_tl += bool(fit.f_p < config.alpha and fit.gain > 0)
    return {"n_fitted": len(gains), "n_threshold_linear": n_tl,
            "gain_law": gain_law(fitted_sizes, gains)}


def _median(frame: pd.DataFrame, col: str) -> float | None:
    if not len(frame):
        return None
    v = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else None
