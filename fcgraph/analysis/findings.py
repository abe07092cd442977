"""The five findings of the paper, each tested by a statistic and a criterion fixed in advance.

Every criterion below is written before any data are seen and uses only numbers computed from
the run; nothing is assumed, so a run on an untrained or structureless network can fail each
finding. ``supported`` is True / False, or None when the run lacks what the test needs (e.g. no
perturbed condition for finding 4). Insufficient data (too few fitted neurons, no groups) counts
as not supported. CIs are 95%.

1. 1FC groups (significant pairwise correlation). Statistic: pooled clean edge rate (edges /
   tested pairs over the analysed layer pairs) divided by the false-edge rate (the calibration's
   rate where the fc stage computed it, else the nominal one-sided normal rate of the z
   threshold). Criterion: the rate's Wilson CI lower bound is at least 2x the false-edge rate AND
   at least half of the post neurons have a non-empty group.
2. Class encoding in rare high-cofiring events. Statistic: mean over layers of the paired
   accuracy difference (event read-out - average read-out, same images). Criterion: the median
   event fraction is at most 0.10 (events are rare) AND the difference's CI lower bound is > 0
   AND in at least one layer the event read-out's CI lower bound exceeds its label-shuffle
   accuracy.
3. ReLU-like input-output curve whose gain scales with ensemble size. Statistic: within-layer
   Spearman rho of gain vs group size, pooled over layers (weighted by neurons). Criterion: at
   least 10 fitted neurons AND the share of fitted neurons whose threshold-linear fit beats the
   linear one (F test p < alpha, gain > 0) has a Wilson CI lower bound >= 0.5 AND the pooled rho's
   CI lower bound is > 0. The gain is per group member (k in members), so a positive rho is not
   built in; the rho of the gain per fraction of the group (k / size, gain x size), which grows
   with size by construction when the per-member gain is flat, is reported in ``details`` only.
4. Noise and adversarial perturbations disrupt the profiles, most in early and intermediate
   layers. Statistic: per noise / adversarial condition, the mean per-neuron group Jaccard
   (clean vs condition) of the last third of the layer pairs minus that of the first two thirds,
   averaged over conditions. Criterion: at least 2 layer pairs; in every such condition some
   layer pair's mean neuron Jaccard has CI upper bound < 0.5 (most of a group changes) AND the
   late-minus-early difference has CI lower bound > 0.
5. Shaped by learning, broken by weight permutation. Statistic: mean over permute / untrained
   conditions and layer pairs of the chance-corrected per-neuron group overlap with clean
   (survival: 0 = chance, 1 = identical). Criterion: every such condition's survival has CI upper
   bound < 0.1 AND clean average-activity decoding beats that condition's (mean paired difference
   over layers, CI lower bound > 0) AND in at least one layer clean decoding's CI lower bound
   exceeds its label-shuffle accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

Z95 = 1.959963984540054
NOISE_KINDS = ("uniform", "gaussian", "fgsm", "pgd")
LEARNING_KINDS = ("permute", "untrained")

CLAIMS = {
    "1": "A neuron's 1FC group is the set of previous-layer neurons whose pairwise spike "
         "correlation with it is statistically significant.",
    "2": "Reliable class encoding emerges during rare, high 1FC cofiring events; average activity "
         "encodes it less well.",
    "3": "The ensemble's aggregate cofiring predicts the neuron's response through a ReLU-like "
         "input-output curve whose gain scales with ensemble size.",
    "4": "Uniform noise and adversarial perturbations disrupt these profiles, most in early and "
         "intermediate layers.",
    "5": "The functional structure is shaped by learning and breaks under weight permutation.",
}
CRITERIA = {
    "1": "Wilson 95% CI lower bound of the pooled clean edge rate >= 2 x false-edge rate, and "
         ">= 50% of post neurons have a non-empty 1FC group.",
    "2": "median event fraction <= 0.10, and CI lower bound of mean(event - average decoding "
         "accuracy) > 0, and in >= 1 layer the event read-out's CI lower bound > shuffle accuracy.",
    "3": ">= 10 fitted neurons, and Wilson CI lower bound of the share with threshold-linear "
         "beating linear (F test p < alpha, gain > 0) >= 0.5, and pooled within-layer Spearman "
         "rho(gain, group size) CI lower bound > 0.",
    "4": ">= 2 layer pairs; each noise/adversarial condition has a layer pair with mean neuron "
         "Jaccard CI upper bound < 0.5, and CI lower bound of mean(late-third minus "
         "early-two-thirds neuron Jaccard) > 0.",
    "5": "each permute/untrained condition: survival (chance-corrected overlap) CI upper bound "
         "< 0.1 and clean average decoding beats it (CI lower bound of the mean difference > 0); "
         "and in >= 1 layer clean decoding's CI lower bound > shuffle accuracy.",
}
STATISTICS = {
    "1": "pooled clean edge rate / false-edge rate",
    "2": "mean over layers of event - average decoding accuracy",
    "3": "pooled within-layer Spearman rho(gain, group size)",
    "4": "late minus early mean neuron Jaccard (clean vs noise/adversarial)",
    "5": "mean survival of clean groups under permute/untrained",
}


def _se(lo: float | None, hi: float | None) -> float | None:
    if lo is None or hi is None:
        return None
    return (hi - lo) / (2 * Z95)


def _pool(values: list[float], ses: list[float], weights: list[float] | None = None
          ) -> tuple[float | None, float | None, float | None]:
    """Weighted mean of independent estimates and its normal 95% CI from their SEs."""
    if not values:
        return None, None, None
    w = np.asarray(weights if weights is not None else [1.0] * len(values), dtype=float)
    w = w / w.sum()
    mean = float((w * np.asarray(values)).sum())
    se = float(np.sqrt((w ** 2 * np.asarray(ses) ** 2).sum()))
    return mean, mean - Z95 * se, mean + Z95 * se


def _wilson(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _finding(fid: str, value: Any, lo: Any, hi: Any, supported: bool | None,
             details: dict[str, Any], reason: str = "") -> dict[str, Any]:
    return {"id": fid, "claim": CLAIMS[fid], "statistic": STATISTICS[fid], "value": value,
            "ci_low": lo, "ci_high": hi, "criterion": CRITERIA[fid], "supported": supported,
            "reason": reason, "details": details}


def finding_1(analysis: dict[str, Any], manifest: Any) -> dict[str, Any]:
    z = float(manifest.fc.get("parameters", {}).get("z", 3.0) or 3.0)
    nominal = float(stats.norm.sf(z))
    edges = tested = 0
    false_rates = []
    with_group = neurons = 0
    for la in analysis["layers"]:
        n_pairs = la.get("tested_pairs") or la["n_neurons"] * _n_pre(analysis, la["pre_layer"])
        edges += la["clean_edges"]
        tested += n_pairs
        if la.get("false_edge_rate") is not None:
            false_rates.append(la["false_edge_rate"])
        with_group += la["group_sizes"]["n_with_group"]
        neurons += la["group_sizes"]["n_neurons"]
    false_rate = max(float(np.mean(false_rates)), nominal) if false_rates else nominal
    details = {"edges": edges, "tested_pairs": tested, "false_edge_rate": false_rate,
               "false_rate_source": "calibration" if false_rates else "nominal",
               "fraction_with_group": with_group / neurons if neurons else None}
    if tested == 0 or neurons == 0:
        return _finding("1", None, None, None, False, details, "no tested pairs")
    lo, hi = _wilson(edges, tested)
    rate = edges / tested
    details.update(edge_rate=rate, edge_rate_lo=lo, edge_rate_hi=hi)
    ok = lo >= 2 * false_rate and with_group / neurons >= 0.5
    return _finding("1", rate / false_rate, lo / false_rate, hi / false_rate, bool(ok), details)


def _n_pre(analysis: dict[str, Any], name: str) -> int:
    for la in analysis["layers"]:
        if la["post_layer"] == name:
            return la["n_neurons"]
    sizes = analysis.get("layer_sizes", {})
    return int(sizes.get(name, 0)) or 1


def finding_2(analysis: dict[str, Any]) -> dict[str, Any]:
    diffs, ses, fractions, beats = [], [], [], []
    for la in analysis["layers"]:
        d = la["decoding"]
        if la["events"].get("median_event_fraction") is not None:
            fractions.append(la["events"]["median_event_fraction"])
        if d.get("difference") is None:
            continue
        diffs.append(d["difference"])
        ses.append(_se(d["difference_lo"], d["difference_hi"]))
        ev = d["event"]
        beats.append(ev.get("accuracy_lo") is not None and ev.get("shuffle_accuracy") is not None
                     and ev["accuracy_lo"] > ev["shuffle_accuracy"])
    frac = float(np.median(fractions)) if fractions else None
    details = {"median_event_fraction": frac, "layers_decoded": len(diffs),
               "layers_event_above_shuffle": int(sum(beats)),
               "per_layer_difference": diffs}
    if not diffs:
        return _finding("2", None, None, None, False, details, "no layer could be decoded")
    mean, lo, hi = _pool(diffs, ses)
    ok = frac is not None and frac <= 0.10 and lo is not None and lo > 0 and any(beats)
    return _finding("2", mean, lo, hi, bool(ok), details)


def finding_3(analysis: dict[str, Any], alpha: float) -> dict[str, Any]:
    n_fit = n_tl = 0
    rhos, ses, ws = [], [], []
    for la in analysis["layers"]:
        io = la["io"]
        n_fit += io["n_fitted"]
        n_tl += io["n_threshold_linear"]
        g = io["gain_vs_size"]
        if g.get("rho") is not None and g.get("rho_lo") is not None:
            rhos.append(g["rho"])
            ses.append(_se(g["rho_lo"], g["rho_hi"]))
            ws.append(g["n"])
    norm = [la["io"].get("gain_norm_vs_size", {}) for la in analysis["layers"]]
    norm = [g for g in norm if g.get("rho") is not None and g.get("rho_lo") is not None]
    n_mean, n_lo, n_hi = _pool([g["rho"] for g in norm], [_se(g["rho_lo"], g["rho_hi"]) for g in norm],
                               [g["n"] for g in norm])
    details: dict[str, Any] = {"n_fitted": n_fit, "n_threshold_linear": n_tl, "alpha": alpha,
                               "layers_with_rho": len(rhos), "per_layer_rho": rhos,
                               "rho_normalized_gain": n_mean, "rho_normalized_gain_lo": n_lo,
                               "rho_normalized_gain_hi": n_hi}
    if n_fit < 10:
        return _finding("3", None, None, None, False, details, "fewer than 10 fitted neurons")
    share_lo, share_hi = _wilson(n_tl, n_fit)
    details.update(share_threshold_linear=n_tl / n_fit, share_lo=share_lo, share_hi=share_hi)
    if not rhos:
        return _finding("3", None, None, None, False, details, "gain vs size not estimable")
    mean, lo, hi = _pool(rhos, ses, ws)
    ok = share_lo >= 0.5 and lo is not None and lo > 0
    return _finding("3", mean, lo, hi, bool(ok), details)


def _cond_layers(analysis: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, list[dict]]:
    return {name: c["layers"] for name, c in analysis.get("conditions", {}).items()
            if c["kind"] in kinds and any("edges" in la for la in c["layers"])}


def finding_4(analysis: dict[str, Any]) -> dict[str, Any]:
    conds = _cond_layers(analysis, NOISE_KINDS)
    details: dict[str, Any] = {"conditions": sorted(conds)}
    if not conds:
        return _finding("4", None, None, None, None, details, "no noise or adversarial edges")
    values, ses, disrupted, per = [], [], [], {}
    for name, layers in conds.items():
        rows = [la["edges"] for la in layers if "edges" in la
                and la["edges"].get("neuron_jaccard") is not None]
        if len(rows) < 2:
            continue
        n_early = max(1, int(np.ceil(len(rows) * 2 / 3)))
        n_early = min(n_early, len(rows) - 1)
        early, late = rows[:n_early], rows[n_early:]
        e_mean, _, _ = _pool([r["neuron_jaccard"] for r in early],
                             [_se(r["neuron_jaccard_lo"], r["neuron_jaccard_hi"]) for r in early])
        l_mean, _, _ = _pool([r["neuron_jaccard"] for r in late],
                             [_se(r["neuron_jaccard_lo"], r["neuron_jaccard_hi"]) for r in late])
        e_se = np.sqrt(sum(_se(r["neuron_jaccard_lo"], r["neuron_jaccard_hi"]) ** 2
                           for r in early)) / len(early)
        l_se = np.sqrt(sum(_se(r["neuron_jaccard_lo"], r["neuron_jaccard_hi"]) ** 2
                           for r in late)) / len(late)
        values.append(l_mean - e_mean)
        ses.append(float(np.sqrt(e_se ** 2 + l_se ** 2)))
        disrupted.append(any(r["neuron_jaccard_hi"] < 0.5 for r in rows))
        per[name] = {"early": e_mean, "late": l_mean, "disrupted": disrupted[-1],
                     "jaccard": [r["neuron_jaccard"] for r in rows],
                     "jaccard_chance": [r.get("neuron_jaccard_chance") for r in rows]}
    details["per_condition"] = per
    if not values:
        return _finding("4", None, None, None, False, details, "fewer than 2 layer pairs")
    mean, lo, hi = _pool(values, ses)
    ok = all(disrupted) and lo is not None and lo > 0
    return _finding("4", mean, lo, hi, bool(ok), details)


def finding_5(analysis: dict[str, Any]) -> dict[str, Any]:
    conds = _cond_layers(analysis, LEARNING_KINDS)
    details: dict[str, Any] = {"conditions": sorted(conds)}
    if not conds:
        return _finding("5", None, None, None, None, details, "no permute or untrained edges")
    clean = {la["post_layer"]: la for la in analysis["layers"]}
    clean_beats_shuffle = any(
        (d := la["decoding"]["average"]).get("accuracy_lo") is not None
        and d.get("shuffle_accuracy") is not None and d["accuracy_lo"] > d["shuffle_accuracy"]
        for la in analysis["layers"])
    survs, sses, ok_all, per = [], [], True, {}
    for name, layers in conds.items():
        rows = [la for la in layers if la.get("edges", {}).get("neuron_survival") is not None]
        s_mean, s_lo, s_hi = _pool([r["edges"]["neuron_survival"] for r in rows],
                                   [_se(r["edges"]["neuron_survival_lo"],
                                        r["edges"]["neuron_survival_hi"]) for r in rows])
        diffs, dses = [], []
        for la in layers:
            c = clean.get(la["post_layer"])
            a = (c or {}).get("decoding", {}).get("average", {}).get("correct")
            b = la["decoding"]["average"].get("correct")
            if a is None or b is None or len(a) != len(b):
                continue
            a, b = np.asarray(a, float), np.asarray(b, float)
            diffs.append(float(a.mean() - b.mean()))
            dses.append(float(np.std(a - b, ddof=1) / np.sqrt(a.size)) if a.size > 1 else 0.0)
        d_mean, d_lo, _ = _pool(diffs, dses)
        ok = s_hi is not None and s_hi < 0.1 and d_lo is not None and d_lo > 0
        ok_all = ok_all and ok
        per[name] = {"survival": s_mean, "survival_lo": s_lo, "survival_hi": s_hi,
                     "decoding_drop": d_mean, "decoding_drop_lo": d_lo, "supported": ok}
        if s_mean is not None:
            survs.append(s_mean)
            sses.append(_se(s_lo, s_hi))
    details.update(per_condition=per, clean_decoding_above_shuffle=clean_beats_shuffle)
    if not survs:
        return _finding("5", None, None, None, False, details, "no neuron overlap computable")
    mean, lo, hi = _pool(survs, sses)
    return _finding("5", mean, lo, hi, bool(ok_all and clean_beats_shuffle), details)


def evaluate(analysis: dict[str, Any], manifest: Any) -> list[dict[str, Any]]:
    """The five findings (dicts: id, claim, statistic, value, ci_low, ci_high, criterion,
    supported, reason, details) of an assembled analysis."""
    alpha = float(analysis.get("parameters", {}).get("alpha", 0.01))
    return [finding_1(analysis, manifest), finding_2(analysis), finding_3(analysis, alpha),
            finding_4(analysis), finding_5(analysis)]
