"""Finding 4: perturbations disrupt the groups, most in early layers (beyond the reliability
floor), with a dose-response."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from fcgraph.analysis.contrasts import (
    Z95,
    pool,
    se_from_ci,
)
from fcgraph.analysis.findings.common import (
    FLOOR_LEVEL,
    _by_role,
    _finding,
    condition_role,
)


def _jaccards(layers: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """post layer -> (mean neuron Jaccard with clean, its SE)."""
    out = {}
    for la in layers:
        e = la.get("edges") or {}
        if e.get("neuron_jaccard") is not None and e.get("neuron_jaccard_lo") is not None:
            out[la["post_layer"]] = (e["neuron_jaccard"],
                                     se_from_ci(e["neuron_jaccard_lo"], e["neuron_jaccard_hi"]))
    return out


def _floor(conds: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[float, float]]:
    """Per post layer, the floor conditions' mean Jaccard with clean; its SE combines theirs
    and, with several floor conditions, their spread."""
    per = [_jaccards(layers) for layers in conds.values()]
    out = {}
    for post in set().union(*per) if per else ():
        vals = [p[post] for p in per if post in p]
        mean = float(np.mean([v for v, _ in vals]))
        se2 = float(np.mean([s ** 2 for _, s in vals]))
        if len(vals) > 1:
            se2 += float(np.var([v for v, _ in vals], ddof=1))
        out[post] = (mean, float(np.sqrt(se2)))
    return out



def finding_4(analysis: dict[str, Any]) -> dict[str, Any]:
    perts = _by_role(analysis, "perturbation")
    floors = _by_role(analysis, "floor")
    details: dict[str, Any] = {"conditions": sorted(perts), "floor_conditions": sorted(floors),
                               "ci": "neurons as independent units within a layer pair"}
    if not perts:
        return _finding("4", None, None, None, None, details,
                        "no noise or adversarial condition above the floor")
    if not floors:
        return _finding("4", None, None, None, None, details,
                        f"no reliability floor: record a negligible-noise repeat (uniform or "
                        f"gaussian at level <= {FLOOR_LEVEL}, e.g. uniform:0.001)")
    floor = _floor(floors)
    order = [la["post_layer"] for la in analysis["layers"]]
    values, ses, disrupted, per = [], [], [], {}
    for name, layers in perts.items():
        jac = _jaccards(layers)
        rows = [(post, floor[post][0] - jac[post][0], float(np.hypot(floor[post][1], jac[post][1])))
                for post in order if post in jac and post in floor]
        if len(rows) < 2:
            continue
        n_early = min(max(1, int(np.ceil(len(rows) * 2 / 3))), len(rows) - 1)
        early, late = rows[:n_early], rows[n_early:]
        e_mean = float(np.mean([d for _, d, _ in early]))
        l_mean = float(np.mean([d for _, d, _ in late]))
        e_se = float(np.sqrt(sum(s ** 2 for _, _, s in early))) / len(early)
        l_se = float(np.sqrt(sum(s ** 2 for _, _, s in late))) / len(late)
        values.append(e_mean - l_mean)
        ses.append(float(np.hypot(e_se, l_se)))
        disrupted.append(any(d - Z95 * s > 0 for _, d, s in rows))
        per[name] = {"early_disruption": e_mean, "late_disruption": l_mean,
                     "disrupted": disrupted[-1],
                     "disruption": {post: d for post, d, _ in rows},
                     "floor_jaccard": {post: floor[post][0] for post, _, _ in rows},
                     "jaccard": {post: jac[post][0] for post, _, _ in rows}}
    details["per_condition"] = per
    details["dose_response"] = dose_response(analysis, per)
    if not values:
        return _finding("4", None, None, None, False, details, "fewer than 2 layer pairs")
    mean, lo, hi = pool(values, ses)
    ok = all(disrupted) and lo is not None and lo > 0
    reason = "" if ok else ("a perturbation changes no layer pair beyond the floor"
                            if not all(disrupted) else "disruption not larger in early layers")
    return _finding("4", mean, lo, hi, bool(ok), details, reason)


def _event_accuracy(layers: list[dict[str, Any]]) -> float | None:
    acc = [la.get("decoding", {}).get("event", {}).get("accuracy") for la in layers]
    acc = [a for a in acc if a is not None]
    return float(np.mean(acc)) if acc else None


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
    floors = [f for f in (_event_accuracy(layers) for layers in floor_layers) if f is not None]
    floor_event = float(np.mean(floors)) if floors else None
    floor_gain = [_profile_change(analysis, layers, "median_gain", False) for layers in floor_layers]
    floor_threshold = [_profile_change(analysis, layers, "median_threshold", True)
                       for layers in floor_layers]
    rows = []
    for name, p in per.items():
        c = conds.get(name, {})
        acc, event = c.get("accuracy"), _event_accuracy(c.get("layers", []))
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
