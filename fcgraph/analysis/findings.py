"""The five findings of the paper, each tested by a statistic, its controls and a criterion
fixed in advance.

A finding says something about a *trained* network, so each is tested twice: on the trained
network (the ``clean`` condition) by an absolute criterion, and against every **control
network** the run recorded -- the weight-permuted (``permute:*``) and the ``untrained`` networks,
each analysed with its *own* 1FC groups (its own edges), exactly as the trained one. A finding is
``supported`` (True) only when the trained network passes its criterion AND its effect exceeds
every control network's (the contrast's CI lower bound > 0); False when either fails; None (not
tested) when the run lacks what the test needs -- no control network, no perturbed condition, no
reliability floor -- with the reason. A "no" that a control confirms is a result.

With **replicates** (other independently trained networks on the same images, analysed the same
way), findings 1, 2, 3 and 5 must hold in each of them too.

Perturbations are measured against a **reliability floor**: conditions that re-measure the
network with negligible noise (``uniform`` or ``gaussian`` at level <= ``FLOOR_LEVEL``). Their
change from clean is what any re-measurement changes; a perturbation disrupts only by more.

Uncertainty: read-outs are compared image by image and resampled by image (an image's T bins
and all its layers together); layer-level estimates are pooled with their SEs; per-layer
contrasts carry Holm-adjusted p-values. All CIs are 95%. Where a CI still treats neurons or
neuron pairs as independent (edge rates, group overlaps, fits) the details say so.

1. 1FC groups (significant pairwise correlation). Statistic: pooled clean edge rate (edges /
   tested pairs) over the false-edge rate measured on the image-reordered control (fc's
   ``--calibrate``, else measured by the analysis; pooled over layer pairs by tested pairs,
   never below the nominal rate). Contrast: mean over layer pairs of log2(trained rate /
   control rate), CI over layer pairs (t, >= 3 pairs) or binomial otherwise.
2. Class encoding in rare high-cofiring events. Events are defined per time step (see
   ``events.py``). Statistic: mean over layers and images of (event read-out correct -
   count-matched read-out correct): the neuron's event spikes against as many of its spikes
   drawn from all its spikes; the event read-out must also beat as many random bins. (Event
   against *all* spikes compares a subset with its superset; it is reported only.) Contrast:
   the same difference in the trained network minus in the control, per image.
3. ReLU-like input-output curve, gain scaling with ensemble size. Each analysed neuron's curve
   is fitted with its group and with a random group of the same size (pre neurons with enough
   spikes). Statistic: the gain law's exponent beta (least squares of log gain on log size per
   layer, pooled) minus the random groups' -- per-member gain falls with size for any group
   (k sums more neurons), so only the excess speaks to the claim, two-sided. Contrasts: the
   threshold-linear share and the beta excess, trained minus control (neurons as units).
4. Perturbations disrupt, most in early and intermediate layers. Per perturbation and layer pair:
   disruption = floor's mean neuron-group Jaccard with clean minus the perturbation's. Statistic:
   mean over perturbations of (early two thirds' disruption - last third's).
5. Shaped by learning, broken by weight permutation. Statistic: mean over control networks of
   (trained - control) average-activity decoding accuracy, per image; the network-level
   properties of findings 1-3 must differ too. Index-based group survival is reported only:
   matching neurons by index across two weight sets says nothing about learning.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from fcgraph.analysis.contrasts import (
    Z95,
    difference,
    holm,
    image_mean,
    paired_p,
    pool,
    se_from_ci,
    wilson,
)
from fcgraph.contract import parse_condition

NOISE_KINDS = ("uniform", "gaussian", "fgsm", "pgd")
FLOOR_KINDS = ("uniform", "gaussian")
LEARNING_KINDS = ("permute", "untrained")
#: noise level (pixel units) up to which a uniform / gaussian condition is a reliability floor
FLOOR_LEVEL = 0.01
#: family-wise level of the per-layer contrasts (Holm)
LAYER_ALPHA = 0.05
NO_CONTROL = ("not tested against a control network: record permute:layer or untrained "
              "(fcgraph record --condition)")

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
    "1": "trained: Wilson CI lower bound of the edge rate >= 2 x false-edge rate and >= 50% of "
         "post neurons with a group; and for every control network, CI lower bound of "
         "mean log2(trained / control edge rate) > 0.",
    "2": "trained: median event fraction <= 0.10, CI lower bounds of mean(event - "
         "count-matched) and mean(event - random-bin) decoding > 0, and the event read-out above "
         "chance in >= 1 layer (label permutations, Holm over layers); and for every control "
         "network, CI lower bound of (event - count-matched) minus the control's > 0.",
    "3": "trained: >= 10 fitted neurons, Wilson CI lower bound of the threshold-linear share "
         ">= 0.5 and of its excess over same-size random groups > 0, and CI lower bound of "
         "beta - beta(random groups) > 0; and for every control network, the share's and that "
         "excess's differences (trained - control) have CI lower bounds > 0.",
    "4": "a reliability floor and >= 2 layer pairs; every perturbation has a layer pair whose "
         "disruption beyond the floor has CI lower bound > 0, and CI lower bound of "
         "mean(early-two-thirds minus last-third disruption) > 0.",
    "5": "for every control network: CI lower bound of (trained - control) average decoding > 0, "
         "and at least one of findings 1-3's contrasts with it > 0; and trained average decoding "
         "above chance in >= 1 layer (label permutations, Holm over layers).",
}
STATISTICS = {
    "1": "trained edge rate / false-edge rate",
    "2": "mean over layers and images of event - count-matched decoding (trained)",
    "3": "gain law exponent beta (gain ∝ size^beta) minus that of same-size random groups",
    "4": "early minus late disruption beyond the reliability floor",
    "5": "mean over control networks of trained - control average decoding",
}

#: what each finding's trained - control contrast measures
CONTRASTS = {"1": "log2 edge rate ratio", "2": "(event - count-matched) decoding difference",
             "3": "threshold-linear share difference (and beta excess)",
             "5": "average decoding difference"}


def condition_role(name: str) -> str:
    """What a recorded condition is to the findings: "trained" (clean), "control" (another
    network: permute, untrained), "floor" (negligible noise), "perturbation" (noise or attack
    above the floor) or "other"."""
    if name == "clean":
        return "trained"
    info = parse_condition(name)
    if info.kind in LEARNING_KINDS:
        return "control"
    if info.kind in FLOOR_KINDS and info.level is not None and info.level <= FLOOR_LEVEL:
        return "floor"
    return "perturbation" if info.kind in NOISE_KINDS else "other"


def _finding(fid: str, value: Any, lo: Any, hi: Any, supported: bool | None,
             details: dict[str, Any], reason: str = "") -> dict[str, Any]:
    return {"id": fid, "claim": CLAIMS[fid], "statistic": STATISTICS[fid], "value": value,
            "ci_low": lo, "ci_high": hi, "criterion": CRITERIA[fid], "supported": supported,
            "reason": reason, "details": details}


def _verdict(trained_ok: bool, why_not: str, contrasts: dict[str, dict[str, Any]]
             ) -> tuple[bool | None, str]:
    """Verdict from the trained network's own criterion and its contrasts with the controls."""
    if not trained_ok:
        return False, why_not
    if not contrasts:
        return None, NO_CONTROL
    failing = sorted(c for c, x in contrasts.items() if not x["exceeds"])
    if failing:
        return False, "the trained network does not exceed control " + ", ".join(failing)
    return True, ""


def _controls(analysis: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Control networks analysed with their own groups: name -> layers."""
    return {name: net["layers"] for name, net in analysis.get("networks", {}).items()
            if net.get("layers")}


def _triple(d: dict[str, Any], prefix: str) -> tuple[Any, Any, Any]:
    return d.get(prefix), d.get(f"{prefix}_lo"), d.get(f"{prefix}_hi")


def _contrast(value: Any, lo: Any, hi: Any, **extra: Any) -> dict[str, Any]:
    return {"value": value, "lo": lo, "hi": hi, "exceeds": lo is not None and lo > 0, **extra}


def above_chance(layers: list[dict[str, Any]], readout: str) -> list[str]:
    """Post layers whose ``readout`` decodes the class above chance: label-permutation p-value,
    Holm-adjusted over the layers, below LAYER_ALPHA."""
    ps = [la["decoding"].get(readout, {}).get("p_permutation") for la in layers]
    return [la["post_layer"] for la, p in zip(layers, holm(ps), strict=True)
            if p is not None and p < LAYER_ALPHA]


# ---- finding 1 -------------------------------------------------------------------------------

def _tested(analysis: dict[str, Any], la: dict[str, Any]) -> int:
    """Tested pairs of a layer pair (from fc's report; all pairs when the run lacks it)."""
    if la.get("tested_pairs") is not None:
        return int(la["tested_pairs"])
    sizes = analysis.get("layer_sizes", {})
    return int(la["n_neurons"]) * int(sizes.get(la["pre_layer"], 1) or 1)


def edge_rate_contrast(analysis: dict[str, Any], trained: list[dict[str, Any]],
                       control: list[dict[str, Any]]) -> dict[str, Any]:
    """log2(trained / control edge rate), mean over the layer pairs both tested: CI over layer
    pairs (t, with >= 3 pairs) or, with fewer, the binomial delta method (pairs independent).
    Layer pairs where either network tested no pair (silent neurons) are listed in
    ``untested`` and left out."""
    by_post = {la["post_layer"]: la for la in control}
    logs, var, untested = [], [], []
    for la in trained:
        c = by_post.get(la["post_layer"])
        if c is None:
            continue
        if _tested(analysis, la) == 0 or _tested(analysis, c) == 0:
            untested.append(la["post_layer"])
            continue
        et, tt = la["clean_edges"] + 0.5, _tested(analysis, la) + 1
        ec, tc = c["clean_edges"] + 0.5, _tested(analysis, c) + 1
        logs.append(float(np.log2((et / tt) / (ec / tc))))
        var.append((1 / et - 1 / tt + 1 / ec - 1 / tc) / np.log(2) ** 2)
    if not logs:
        return _contrast(None, None, None, layer_pairs=0, untested=untested)
    mean = float(np.mean(logs))
    if len(logs) >= 3:
        half = float(stats.t.ppf(0.975, len(logs) - 1) * np.std(logs, ddof=1) / np.sqrt(len(logs)))
        method = "t over layer pairs"
    else:
        half = Z95 * float(np.sqrt(np.sum(var))) / len(logs)
        method = "binomial (pairs as independent: understated)"
    return _contrast(mean, mean - half, mean + half, layer_pairs=len(logs), ci_method=method,
                     per_layer=logs, untested=untested)


def finding_1(analysis: dict[str, Any], manifest: Any) -> dict[str, Any]:
    z = float(manifest.fc.get("parameters", {}).get("z", 3.0) or 3.0)
    nominal = float(stats.norm.sf(z))
    layers = analysis["layers"]
    edges = sum(la["clean_edges"] for la in layers)
    tested = sum(_tested(analysis, la) for la in layers)
    measured = [(la["false_edge_rate"], _tested(analysis, la)) for la in layers
                if la.get("false_edge_rate") is not None]
    with_group = sum(la["group_sizes"]["n_with_group"] for la in layers)
    neurons = sum(la["group_sizes"]["n_neurons"] for la in layers)
    pooled = (sum(r * t for r, t in measured) / sum(t for _, t in measured)
              if measured and sum(t for _, t in measured) else None)
    false_rate = max(pooled, nominal) if pooled is not None else nominal
    details: dict[str, Any] = {
        "edges": edges, "tested_pairs": tested, "false_edge_rate": false_rate,
        "measured_false_edge_rate": pooled, "nominal_rate": nominal,
        "false_rate_source": "measured on the image-reordered control (never below nominal)"
        if measured else "nominal",
        "fraction_with_group": with_group / neurons if neurons else None}
    if tested == 0 or neurons == 0:
        return _finding("1", None, None, None, False, details, "no tested pairs")
    lo, hi = wilson(edges, tested)
    rate = edges / tested
    contrasts = {name: edge_rate_contrast(analysis, layers, ctl)
                 for name, ctl in _controls(analysis).items()}
    details.update(edge_rate=rate, edge_rate_lo=lo, edge_rate_hi=hi,
                   edge_rate_ci="Wilson over tested pairs (pairs as independent: understated)",
                   contrasts=contrasts)
    ok = lo >= 2 * false_rate and with_group / neurons >= 0.5
    supported, reason = _verdict(ok, "trained edge rate or group coverage below the criterion",
                                 contrasts)
    return _finding("1", rate / false_rate, lo / false_rate, hi / false_rate, supported, details,
                    reason)


# ---- finding 2 -------------------------------------------------------------------------------

def _readout_difference(first: str, second: str) -> Any:
    """A function: layer -> per-image (``first`` correct - ``second`` correct), or None."""
    def per_image(la: dict[str, Any]) -> np.ndarray | None:
        d = la["decoding"]
        x, y = d.get(first, {}).get("correct"), d.get(second, {}).get("correct")
        if x is None or y is None or len(x) != len(y):
            return None
        return np.asarray(x, float) - np.asarray(y, float)
    return per_image


_event_minus_average = _readout_difference("event", "average")
_event_minus_matched = _readout_difference("event", "matched")
_event_minus_random = _readout_difference("event", "random")


def decoding_contrast(trained: list[dict[str, Any]], control: list[dict[str, Any]],
                      feature: Any, *, absent_is_zero: bool = False, seed: int = 0
                      ) -> dict[str, Any]:
    """Per-image contrast trained - control of ``feature(layer) -> per-image array | None``,
    over the layers both have: mean with a CI over images, and per layer a Holm-adjusted
    paired p-value (``layers_exceeding``: adjusted p < LAYER_ALPHA with a positive mean).
    ``absent_is_zero``: a layer the control cannot provide (no neuron with a group to analyse)
    contributes a control value of 0 per image."""
    by_post = {la["post_layer"]: la for la in control}
    per_layer, names, absent = [], [], []
    for la in trained:
        a = feature(la)
        c = by_post.get(la["post_layer"])
        b = feature(c) if c is not None else None
        if a is None:
            continue
        if b is None and absent_is_zero and c is not None:
            b = np.zeros_like(a)
            absent.append(la["post_layer"])
        if b is None or a.size != b.size:
            continue
        per_layer.append(a - b)
        names.append(la["post_layer"])
    m = image_mean(per_layer, seed=seed)
    adjusted = holm([paired_p(v) for v in per_layer])
    exceeding = [n for n, v, p in zip(names, per_layer, adjusted, strict=True)
                 if p is not None and p < LAYER_ALPHA and v.mean() > 0]
    return _contrast(m["value"], m["lo"], m["hi"], n_images=m["n_images"], layers=names,
                     per_layer=[float(v.mean()) for v in per_layer], layer_p_holm=adjusted,
                     layers_exceeding=exceeding, control_without_groups=absent)


def percentile_sweep(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Event - count-matched decoding at each swept event percentile, mean over layers and
    images with a CI over images (from each layer's ``events.sweep``)."""
    by_pct: dict[float, list[Any]] = {}
    for la in layers:
        for row in la["events"].get("sweep") or []:
            if row.get("per_image") is not None:
                by_pct.setdefault(row["percentile"], []).append(row["per_image"])
    return [{"percentile": pct, **image_mean(rows)} for pct, rows in sorted(by_pct.items())]


def finding_2(analysis: dict[str, Any]) -> dict[str, Any]:
    layers = analysis["layers"]
    fractions = [la["events"]["median_event_fraction"] for la in layers
                 if la["events"].get("median_event_fraction") is not None]
    beats = above_chance(layers, "event")
    frac = float(np.median(fractions)) if fractions else None
    compared = {name: image_mean([d for la in layers if (d := fn(la)) is not None])
                for name, fn in (("matched", _event_minus_matched), ("random", _event_minus_random),
                                 ("average", _event_minus_average))}
    details: dict[str, Any] = {
        "median_event_fraction": frac, "layers_event_above_shuffle": beats,
        "event_minus_matched": compared["matched"], "event_minus_random": compared["random"],
        "event_minus_average": compared["average"],
        "percentile_sweep": percentile_sweep(layers),
        "ci": "images resampled, layers of an image together"}
    m = compared["matched"]
    if m["value"] is None:
        return _finding("2", None, None, None, False, details,
                        "no layer could be decoded (no neuron with a group to analyse)")
    contrasts = {name: decoding_contrast(layers, ctl, _event_minus_matched, absent_is_zero=True)
                 for name, ctl in _controls(analysis).items()}
    details["contrasts"] = contrasts
    r = compared["random"]
    ok = (frac is not None and frac <= 0.10 and m["lo"] > 0 and r["lo"] is not None
          and r["lo"] > 0 and bool(beats))
    supported, reason = _verdict(ok, "the trained network's event spikes do not out-decode as "
                                     "many of its other spikes or random bins", contrasts)
    return _finding("2", m["value"], m["lo"], m["hi"], supported, details, reason)


# ---- finding 3 -------------------------------------------------------------------------------

def _pooled_beta(rows: list[dict[str, Any]]) -> tuple[float | None, float | None, float | None]:
    rows = [g for g in rows if g and g.get("beta") is not None]
    return pool([g["beta"] for g in rows], [se_from_ci(g["beta_lo"], g["beta_hi"]) for g in rows],
                [g["n"] for g in rows])


def io_summary(layers: list[dict[str, Any]]) -> dict[str, Any]:
    """A network's input-output curves: threshold-linear share (Wilson CI) of its groups and of
    same-size random groups; the gain law's exponent beta (log gain on log size, pooled over
    layers) of both and their difference ``beta_excess`` (the size scaling that random groups of
    the same sizes do not have); and the pooled within-layer rho(gain, size)."""
    n_fit = sum(la["io"]["n_fitted"] for la in layers)
    n_tl = sum(la["io"]["n_threshold_linear"] for la in layers)
    rand = [la["io"].get("random_groups") or {} for la in layers]
    r_fit, r_tl = sum(r.get("n_fitted", 0) for r in rand), sum(r.get("n_threshold_linear", 0)
                                                              for r in rand)
    rows = [g for la in layers if (g := la["io"]["gain_vs_size"]).get("rho") is not None
            and g.get("rho_lo") is not None]
    rho = pool([g["rho"] for g in rows], [se_from_ci(g["rho_lo"], g["rho_hi"]) for g in rows],
               [g["n"] for g in rows])
    excess = []
    for la, r in zip(layers, rand, strict=True):
        d = difference(_triple(la["io"].get("gain_law") or {}, "beta"),
                       _triple(r.get("gain_law") or {}, "beta"))
        if d[0] is not None:
            excess.append((d, la["io"]["n_fitted"]))
    beta_excess = pool([d[0] for d, _ in excess], [se_from_ci(d[1], d[2]) for d, _ in excess],
                       [n for _, n in excess])
    share = (n_tl / n_fit, *wilson(n_tl, n_fit)) if n_fit else (None, None, None)
    r_share = (r_tl / r_fit, *wilson(r_tl, r_fit)) if r_fit else (None, None, None)
    share_excess = difference(share, r_share) if r_fit else (None, None, None)
    beta = _pooled_beta([la["io"].get("gain_law") for la in layers])
    beta_random = _pooled_beta([r.get("gain_law") for r in rand])
    out = {"n_fitted": n_fit, "n_threshold_linear": n_tl, "random_n_fitted": r_fit,
           "random_n_threshold_linear": r_tl, "layers_with_rho": len(rows),
           "per_layer_rho": [g["rho"] for g in rows]}
    for name, t in (("share", share), ("random_share", r_share), ("share_excess", share_excess),
                    ("beta", beta), ("beta_random", beta_random), ("beta_excess", beta_excess),
                    ("rho", rho)):
        out.update({name: t[0], f"{name}_lo": t[1], f"{name}_hi": t[2]})
    return out


def io_contrast(trained: dict[str, Any], control: dict[str, Any]) -> dict[str, Any]:
    """Threshold-linear share and beta excess, trained - control; exceeds when both CIs are
    above 0. A control without a fitted neuron (no groups) counts as 0 for both."""
    absent = control["n_fitted"] == 0
    zero = (0.0, 0.0, 0.0)
    share = difference(_triple(trained, "share"), zero if absent else _triple(control, "share"))
    beta = difference(_triple(trained, "beta_excess"),
                      zero if absent or control["beta_excess"] is None
                      else _triple(control, "beta_excess"))
    return {"value": share[0], "lo": share[1], "hi": share[2], "beta_excess_difference": beta[0],
            "beta_excess_difference_lo": beta[1], "beta_excess_difference_hi": beta[2],
            "exceeds": bool(share[1] is not None and share[1] > 0
                            and beta[1] is not None and beta[1] > 0),
            "control_without_groups": absent}


def finding_3(analysis: dict[str, Any], alpha: float) -> dict[str, Any]:
    trained = io_summary(analysis["layers"])
    details: dict[str, Any] = {**trained, "alpha": alpha,
                               "ci": "neurons as independent units within a layer"}
    if trained["n_fitted"] < 10:
        return _finding("3", None, None, None, False, details, "fewer than 10 fitted neurons")
    if trained["beta_excess"] is None or trained["share_excess"] is None:
        return _finding("3", None, None, None, False, details,
                        "gain law not estimable against same-size random groups")
    contrasts = {name: io_contrast(trained, io_summary(ctl))
                 for name, ctl in _controls(analysis).items()}
    details["contrasts"] = contrasts
    ok = (trained["share_lo"] >= 0.5 and trained["share_excess_lo"] > 0
          and trained["beta_excess_lo"] > 0)
    direction = ("rises" if trained["beta_excess_lo"] > 0 else "falls"
                 if trained["beta_excess_hi"] < 0 else "is flat")
    supported, reason = _verdict(
        ok, f"threshold-linear share {trained['share']:.2f} (random groups "
            f"{trained['random_share']:.2f}); the gain {direction} with group size relative to "
            f"same-size random groups", contrasts)
    return _finding("3", trained["beta_excess"], trained["beta_excess_lo"],
                    trained["beta_excess_hi"], supported, details, reason)


# ---- finding 4 -------------------------------------------------------------------------------

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


def _by_role(analysis: dict[str, Any], role: str) -> dict[str, list[dict[str, Any]]]:
    return {name: c["layers"] for name, c in analysis.get("conditions", {}).items()
            if condition_role(name) == role and any("edges" in la for la in c["layers"])}


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


def dose_response(analysis: dict[str, Any], per: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per perturbation: its accuracy drop from clean, its mean disruption beyond the floor, and
    the change of the profiles (mean over layers of the event read-out accuracy, clean groups)
    beyond the floor's; with >= 3 perturbations, Spearman rho of disruption against accuracy
    drop (does more damage to the read-out go with more disruption?)."""
    clean_acc = analysis.get("clean_accuracy")
    conds = analysis.get("conditions", {})
    floors = [_event_accuracy(c["layers"]) for name, c in conds.items()
              if condition_role(name) == "floor"]
    floors = [f for f in floors if f is not None]
    floor_event = float(np.mean(floors)) if floors else None
    rows = []
    for name, p in per.items():
        c = conds.get(name, {})
        acc, event = c.get("accuracy"), _event_accuracy(c.get("layers", []))
        rows.append({"condition": name,
                     "accuracy_drop": None if acc is None or clean_acc is None
                     else clean_acc - acc,
                     "mean_disruption": float(np.mean(list(p["disruption"].values()))),
                     "event_readout_drop_beyond_floor": None if event is None
                     or floor_event is None else floor_event - event})
    usable = [r for r in rows if r["accuracy_drop"] is not None]
    rho = (float(stats.spearmanr([r["accuracy_drop"] for r in usable],
                                 [r["mean_disruption"] for r in usable]).statistic)
           if len(usable) >= 3 else None)
    return {"rows": sorted(rows, key=lambda r: r["mean_disruption"]),
            "rho_disruption_accuracy_drop": rho}


# ---- finding 5 -------------------------------------------------------------------------------

def _average_correct(la: dict[str, Any]) -> np.ndarray | None:
    c = la["decoding"]["average"].get("correct")
    return None if c is None else np.asarray(c, float)


def finding_5(analysis: dict[str, Any], earlier: list[dict[str, Any]]) -> dict[str, Any]:
    """``earlier``: findings 1-3 (their per-control contrasts are the structural properties)."""
    controls = {name: analysis["conditions"][name]["layers"] for name in _controls(analysis)
                if name in analysis.get("conditions", {})}
    clean_above_shuffle = above_chance(analysis["layers"], "average")
    survival = {}
    for name, layers in _by_role(analysis, "control").items():
        rows = [r["edges"] for r in layers if r.get("edges", {}).get("neuron_survival") is not None]
        if rows:
            survival[name] = pool([r["neuron_survival"] for r in rows],
                                  [se_from_ci(r["neuron_survival_lo"], r["neuron_survival_hi"])
                                   for r in rows])
    details: dict[str, Any] = {"controls": sorted(controls),
                               "clean_decoding_above_shuffle": clean_above_shuffle,
                               "index_survival (not tested)": survival}
    if not controls:
        return _finding("5", None, None, None, None, details, NO_CONTROL)
    per, values, ses = {}, [], []
    for name, ctl in controls.items():
        dec = decoding_contrast(analysis["layers"], ctl, _average_correct)
        props = [f["id"] for f in earlier
                 if f["details"].get("contrasts", {}).get(name, {}).get("exceeds")]
        per[name] = {"decoding": dec, "properties_differing": props,
                     "supported": bool(dec["exceeds"] and props)}
        if dec["value"] is not None:
            values.append(dec["value"])
            ses.append(se_from_ci(dec["lo"], dec["hi"]))
    details["per_control"] = per
    if not values:
        return _finding("5", None, None, None, False, details, "no read-out to compare")
    mean, lo, hi = pool(values, ses)
    ok = all(p["supported"] for p in per.values()) and bool(clean_above_shuffle)
    reason = "" if ok else "a control network decodes as well or shares findings 1-3's " \
                           "properties, or the trained read-out is at chance"
    return _finding("5", mean, lo, hi, bool(ok), details, reason)


def criteria_markdown() -> str:
    """The README's table of the findings (claim, statistic, criterion), from this module."""
    rows = [f"| {i} | {CLAIMS[i]} | {STATISTICS[i]} | {CRITERIA[i]} |" for i in CLAIMS]
    return "\n".join(["| # | claim | statistic | supported when |", "| --- | --- | --- | --- |",
                      *rows])


def summary_frame(found: list[dict[str, Any]]) -> Any:
    """One row per finding, for a terminal (a pandas DataFrame): ``id``; ``supported`` (yes /
    no / not tested, with the reason); ``result`` (statistic = value [CI]); ``controls`` (each
    control's trained - control contrast [CI], ``+`` where the trained network exceeds it)."""
    import pandas as pd

    def num(v: Any) -> str:
        return "–" if v is None else f"{v:.3g}"

    rows = []
    for f in found:
        d = f["details"]
        per = d.get("contrasts") or {c: p["decoding"] for c, p in d.get("per_control", {}).items()}
        controls = "; ".join(f"{name} {num(c.get('value'))} [{num(c.get('lo'))}, "
                             f"{num(c.get('hi'))}]{' +' if c.get('exceeds') else ''}"
                             for name, c in per.items())
        verdict = {True: "yes", False: "no", None: "not tested"}[f["supported"]]
        ci = "" if f["ci_low"] is None else f" [{num(f['ci_low'])}, {num(f['ci_high'])}]"
        rows.append({"id": f["id"],
                     "supported": verdict + (f": {f['reason']}" if f.get("reason") else ""),
                     "result": f"{f['statistic']} = {num(f['value'])}{ci}",
                     "controls": controls or "–"})
    return pd.DataFrame(rows)


def _first_four(analysis: dict[str, Any], manifest: Any) -> list[dict[str, Any]]:
    """Findings 1, 2, 3 and 5 of ``analysis`` (5 uses the contrasts of 1-3)."""
    alpha = float(analysis.get("parameters", {}).get("alpha", 0.01))
    first = [finding_1(analysis, manifest), finding_2(analysis), finding_3(analysis, alpha)]
    return [*first, finding_5(analysis, first)]


def _with_replicates(found: dict[str, Any], on_replicates: dict[str, dict[str, Any]]
                     ) -> dict[str, Any]:
    """A finding of the trained network, held to its replicates: a "yes" needs a "yes" in each
    replicate too (the same criterion and controls); their results and the spread of the
    statistic between the trained networks go into ``details``."""
    if not on_replicates:
        return found
    values = [r["value"] for r in on_replicates.values() if r["value"] is not None]
    found["details"]["replicates"] = {
        name: {k: r[k] for k in ("value", "ci_low", "ci_high", "supported", "reason")}
        for name, r in on_replicates.items()}
    found["details"]["seed_spread"] = (max(abs(found["value"] - v) for v in values)
                                       if values and found["value"] is not None else None)
    failing = sorted(n for n, r in on_replicates.items() if r["supported"] is not True)
    if found["supported"] is True and failing:
        found["supported"] = False
        found["reason"] = "does not hold in the replicate network " + ", ".join(failing)
    return found


def evaluate(analysis: dict[str, Any], manifest: Any) -> list[dict[str, Any]]:
    """The five findings (dicts: id, claim, statistic, value, ci_low, ci_high, criterion,
    supported, reason, details) of an assembled analysis; with ``replicates`` (other trained
    networks analysed like this one), findings 1-3 and 5 must hold in each of them too."""
    main = _first_four(analysis, manifest)
    reps = {name: _first_four({**analysis, "layers": rep["layers"]}, manifest)
            for name, rep in analysis.get("replicates", {}).items()}
    out = [_with_replicates(f, {name: r[i] for name, r in reps.items()})
           for i, f in enumerate(main)]
    return [*out[:3], finding_4(analysis), out[3]]
