"""Finding 4: perturbations disrupt the groups, most in early layers (beyond the reliability
floor), with a dose-response.

Disruption is measured on the block sample of post neurons (every post neuron of a layer up to
``max_neurons``; the neurons with a clean group of ``min_group`` members, weighted by its size:
:func:`~fcgraph.analysis.blocks.neuron_jaccard`): the floor's mean neuron Jaccard of the clean
in-edges minus the perturbation's. Its CIs come from the image-block jackknife
(:mod:`fcgraph.analysis.blocks`): every statistic, the early-minus-late contrast and its mean
over perturbations included, is formed within each replicate, whose images are the same in
every condition and layer pair. With several draws of the floor's noise (``uniform:0.001``,
``uniform:0.001:r2``, ...) their spread adds a noise-seed error to each interval
(:func:`_widened`): the disruption must exceed the seed-to-seed spread as well as the images'.
Every disruption is also measured on each half of the images
(:func:`~fcgraph.analysis.blocks.image_halves`): the images' error of a statistic is the
larger of its jackknife SE and its split-half spread |S_A - S_B| / 2, and the early-minus-late
contrast must be positive in both halves. The clean groups' split-half Jaccard (one half's
in-edges against the other's) is reported per layer: what re-measuring on other images
changes."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from fcgraph.analysis.blocks import jackknife
from fcgraph.analysis.findings.common import (
    FLOOR_LEVEL,
    condition_role,
    conditions_by_role,
    finding_result,
    mean_readout_accuracy,
)

#: The block summaries' neuron Jaccard with clean: on all images then each jackknife replicate
#: (G + 1 values), and on each half of the images (2 values).
WHOLE, HALVES = "neuron_jaccard", "neuron_jaccard_halves"


def _jaccards(layers: list[dict[str, Any]], key: str = WHOLE) -> dict[str, np.ndarray]:
    """post layer -> the block sample's mean neuron Jaccard with clean (:mod:`fcgraph.analysis.
    blocks`): float (G + 1,), on all images then on each jackknife replicate (``WHOLE``), or
    (2,), on each half of the images (``HALVES``); layers missing a value are left out."""
    out = {}
    for la in layers:
        values = (la.get("blocks") or {}).get(key)
        if values and all(v is not None for v in values):
            out[la["post_layer"]] = np.asarray(values, dtype=float)
    return out


def _floor(conds: dict[str, list[dict[str, Any]]], key: str = WHOLE
           ) -> tuple[dict[str, np.ndarray], dict[str, float], list[dict[str, np.ndarray]]]:
    """The floor conditions (its noise draws): per post layer, their mean neuron Jaccard with
    clean within each replicate or half (``key``, :func:`_jaccards`); per post layer with >= 2
    draws, the SD (ddof 1) over the draws of the first value (all images, for ``WHOLE``); and
    each draw's Jaccards (:func:`_jaccards`)."""
    per = [_jaccards(layers, key) for layers in conds.values()]
    mean, sd = {}, {}
    for post in set().union(*per) if per else ():
        draws = np.array([p[post] for p in per if post in p])
        mean[post] = draws.mean(axis=0)
        if len(draws) >= 2:
            sd[post] = float(np.std(draws[:, 0], ddof=1))
    return mean, sd, per


def _widened(interval: dict[str, Any], seed_se: float, halves: np.ndarray | None = None
             ) -> dict[str, Any]:
    """A jackknife interval (:func:`~fcgraph.analysis.blocks.jackknife`) with the images' SE
    the larger of the jackknife's and the split-half spread |S_A - S_B| / 2 of the statistic on
    the two halves of the images (``halves``, float (2,), when measured), widened by an
    independent noise-seed error of SD ``seed_se``: SE sqrt(images' SE^2 + seed_se^2), t(G - 1)
    kept. Adds ``halves`` and ``split_half_se`` when halves are given."""
    out = dict(interval)
    split = None
    if halves is not None:
        split = float(abs(halves[0] - halves[1]) / 2)
        out.update(halves=[float(h) for h in halves], split_half_se=split)
    if interval["se"] is None or not (seed_se or split):
        return out
    se = float(np.hypot(max(interval["se"], split or 0.0), seed_se))
    half = float(stats.t.ppf(0.975, interval["n_groups"] - 1)) * se
    return {**out, "se": se, "seed_se": seed_se, "lo": interval["value"] - half,
            "hi": interval["value"] + half}


def _early_minus_late(rows: list[tuple[str, np.ndarray]], n_early: int) -> np.ndarray:
    """mean(early layers' disruption) - mean(late layers'), elementwise (per replicate or
    half); ``rows``: (post layer, disruption) in layer order."""
    return (np.mean([d for _, d in rows[:n_early]], axis=0)
            - np.mean([d for _, d in rows[n_early:]], axis=0))


def _contrast_seed_unit(draws: list[dict[str, np.ndarray]], early: list[str],
                        late: list[str]) -> float:
    """Seed SD of mean(early) - mean(late) for one noise draw: the SD (ddof 1) over the floor's
    draws of that contrast of their Jaccards on all images, each draw's layers taken together
    (so their dependence through the shared draw is kept); 0 with fewer than 2 draws that
    measure every layer."""
    contrasts = [np.mean([d[p][0] for p in early]) - np.mean([d[p][0] for p in late])
                 for d in draws if all(p in d for p in (*early, *late))]
    return float(np.std(contrasts, ddof=1)) if len(contrasts) >= 2 else 0.0


def finding_4(analysis: dict[str, Any]) -> dict[str, Any]:
    perts = conditions_by_role(analysis, "perturbation")
    floors = conditions_by_role(analysis, "floor")
    details: dict[str, Any] = {
        "conditions": sorted(perts), "floor_conditions": sorted(floors),
        "ci": "image-block jackknife: each replicate drops one class-stratified group of images "
              "in every condition and layer pair at once; the neuron Jaccard is the mean over "
              "the block sample's post neurons whose clean in-edges are a group (min_group), "
              "weighted by the group's size"}
    if not perts:
        return finding_result("4", None, None, None, None, details,
                        "no noise or adversarial condition above the floor")
    if not floors:
        return finding_result("4", None, None, None, None, details,
                        f"no reliability floor: record a negligible-noise repeat (uniform or "
                        f"gaussian at level <= {FLOOR_LEVEL}, e.g. uniform:0.001)")
    # with several floor draws, their spread is the noise-seed error of a disruption: the floor
    # mean's (sd^2 / draws) and the perturbation's own draw's (sd^2)
    floor, seed_sd, floor_draws = _floor(floors)
    n_draws = len(floor_draws)
    floor_halves = _floor(floors, HALVES)[0]
    details.update(floor_draws=n_draws, floor_seed_sd=seed_sd, split_half_jaccard={
        la["post_layer"]: (la.get("blocks") or {}).get("split_half_neuron_jaccard")
        for la in analysis["layers"]})
    factor = float(np.sqrt(1 + 1 / n_draws))
    order = [la["post_layer"] for la in analysis["layers"]]
    values, halves, disrupted, per, units = [], [], [], {}, []
    for name, layers in perts.items():
        jac, jac_halves = _jaccards(layers), _jaccards(layers, HALVES)
        rows = [(post, floor[post] - jac[post]) for post in order
                if post in jac and post in floor and jac[post].size == floor[post].size]
        if len(rows) < 2:
            continue
        by_half = {post: floor_halves[post] - jac_halves[post] for post, _ in rows
                   if post in jac_halves and post in floor_halves}
        n_early = min(max(1, int(np.ceil(len(rows) * 2 / 3))), len(rows) - 1)
        em = _early_minus_late(rows, n_early)
        em_halves = (_early_minus_late([(p, by_half[p]) for p, _ in rows], n_early)
                     if len(by_half) == len(rows) else None)
        values.append(em)
        halves.append(em_halves)
        units.append(_contrast_seed_unit(floor_draws, [p for p, _ in rows[:n_early]],
                                         [p for p, _ in rows[n_early:]]))
        per_layer = {post: _widened(jackknife(d), factor * seed_sd.get(post, 0.0),
                                    by_half.get(post))
                     for post, d in rows}
        disrupted.append(any(j["lo"] is not None and j["lo"] > 0 for j in per_layer.values()))
        per[name] = {"early_disruption": float(np.mean([d[0] for _, d in rows[:n_early]])),
                     "late_disruption": float(np.mean([d[0] for _, d in rows[n_early:]])),
                     "early_minus_late": _widened(jackknife(em), factor * units[-1], em_halves),
                     "disrupted": disrupted[-1],
                     "disruption": {post: float(d[0]) for post, d in rows},
                     "disruption_ci": {post: [j["lo"], j["hi"]] for post, j in per_layer.items()},
                     "floor_jaccard": {post: float(floor[post][0]) for post, _ in rows},
                     "jaccard": {post: float(jac[post][0]) for post, _ in rows}}
    details["per_condition"] = per
    details["dose_response"] = dose_response(analysis, per)
    if not values:
        return finding_result("4", None, None, None, False, details, "fewer than 2 layer pairs")
    # over perturbations, within each replicate; the floor's seed error is shared by them all,
    # each perturbation's own draw is not
    pooled_halves = (np.mean(halves, axis=0) if all(h is not None for h in halves) else None)
    pooled = _widened(jackknife(np.mean(values, axis=0)),
                      float(np.sqrt(1 / len(values) + 1 / n_draws)) * float(np.mean(units)),
                      pooled_halves)
    details["pooled"] = pooled
    mean, lo, hi = pooled["value"], pooled["lo"], pooled["hi"]
    in_both = pooled_halves is None or bool(np.all(pooled_halves > 0))
    ok = all(disrupted) and lo is not None and lo > 0 and in_both
    reason = "" if ok else (
        "a perturbation changes no layer pair beyond the floor" if not all(disrupted)
        else "larger in early layers on all images, but not in both halves of them"
        if not in_both and mean is not None and mean > 0
        else "disruption not larger in early layers")
    return finding_result("4", mean, lo, hi, bool(ok), details, reason)


def _profile_change(analysis: dict[str, Any], layers: list[dict[str, Any]], key: str,
                    relative: bool) -> float | None:
    """Mean over layer pairs of how far a condition's median I/O parameter ``key`` (``io``
    section; the clean groups' neurons) moved from clean's: |log2 ratio| for the gain,
    |difference| / |clean| for the threshold (``relative``); None where nothing compares."""
    clean = {la["post_layer"]: (la.get("io") or {}).get(key) for la in analysis["layers"]}
    changes = []
    for la in layers:
        a, b = clean.get(la["post_layer"]), (la.get("io") or {}).get(key)
        if a is None or b is None:
            continue
        if relative and a != 0:
            changes.append(abs(b - a) / abs(a))
        elif not relative and a > 0 and b > 0:
            changes.append(abs(float(np.log2(b / a))))
    return float(np.mean(changes)) if changes else None


def _beyond(value: float | None, floor: list[float | None]) -> float | None:
    floor = [f for f in floor if f is not None]
    return None if value is None or not floor else value - float(np.mean(floor))


def dose_response(analysis: dict[str, Any], per: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per perturbation: its accuracy drop from clean, its mean disruption beyond the floor, and
    the change of the profiles beyond the floor's: the event read-out accuracy (mean over
    layers, clean groups), the input-output gain (mean over layers of |log2| of the median
    gain's ratio to clean) and threshold (relative change of the median threshold); with >= 3
    perturbations, Spearman rho of disruption against accuracy drop (does more damage to the
    read-out go with more disruption?)."""
    clean_acc = analysis.get("clean_accuracy")
    conds = analysis.get("conditions", {})
    floor_layers = [c["layers"] for name, c in conds.items() if condition_role(name) == "floor"]
    floors = [f for f in (mean_readout_accuracy(layers, "event") for layers in floor_layers) if f is not None]
    floor_event = float(np.mean(floors)) if floors else None
    floor_gain = [_profile_change(analysis, layers, "median_gain", False) for layers in floor_layers]
    floor_threshold = [_profile_change(analysis, layers, "median_threshold", True)
                       for layers in floor_layers]
    rows = []
    for name, p in per.items():
        c = conds.get(name, {})
        acc, event = c.get("accuracy"), mean_readout_accuracy(c.get("layers", []), "event")
        rows.append({"condition": name,
                     "accuracy_drop": None if acc is None or clean_acc is None
                     else clean_acc - acc,
                     "mean_disruption": float(np.mean(list(p["disruption"].values()))),
                     "event_readout_drop_beyond_floor": None if event is None
                     or floor_event is None else floor_event - event,
                     "gain_change_beyond_floor": _beyond(_profile_change(
                         analysis, c.get("layers", []), "median_gain", False), floor_gain),
                     "threshold_change_beyond_floor": _beyond(_profile_change(
                         analysis, c.get("layers", []), "median_threshold", True),
                         floor_threshold)})
    usable = [r for r in rows if r["accuracy_drop"] is not None]
    rho = (float(stats.spearmanr([r["accuracy_drop"] for r in usable],
                                 [r["mean_disruption"] for r in usable]).statistic)
           if len(usable) >= 3 else None)
    return {"rows": sorted(rows, key=lambda r: r["mean_disruption"]),
            "rho_disruption_accuracy_drop": rho}
