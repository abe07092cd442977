"""Finding 1: 1FC groups are significant pairwise correlations (edge rate against the measured
false-edge rate, and against each control network).

The edge rate and its contrasts with the controls are measured on each network's block sample
of post neurons (:func:`fcgraph.analysis.blocks.block_sample`: every post neuron of a layer up
to ``max_neurons``) and get their CIs from the image-block jackknife
(:mod:`fcgraph.analysis.blocks`): the rate pooled over layer pairs, and the mean log2 ratio
over layer pairs, are formed within each replicate, so layers that share images are not taken
as independent. The Wilson interval over all tested pairs, which takes pairs as independent,
is reported beside it only. The verdict also needs the named principle like-to-like
(:func:`like_to_like_test`) to hold against every control; the other principles are reported
(:func:`principle_contrasts`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from fcgraph.analysis.blocks import jackknife
from fcgraph.analysis.contrasts import (
    Z95,
    wilson,
)
from fcgraph.analysis.findings.common import (
    checkpoint_networks,
    contrast_entry,
    control_networks,
    finding_result,
    verdict,
)
from fcgraph.analysis.principles import PRINCIPLES, SIGNED


def _tested(analysis: dict[str, Any], la: dict[str, Any]) -> int:
    """Tested pairs of a layer pair (from fc's report; all pairs when the run lacks it)."""
    if la.get("tested_pairs") is not None:
        return int(la["tested_pairs"])
    sizes = analysis.get("layer_sizes", {})
    return int(la["n_neurons"]) * int(sizes.get(la["pre_layer"], 1) or 1)


def edge_rate_contrast(analysis: dict[str, Any], trained: list[dict[str, Any]],
                       control: list[dict[str, Any]]) -> dict[str, Any]:
    """log2(trained / control edge rate) of all tested pairs, mean over the layer pairs both
    tested: CI over layer pairs (t, with >= 3 pairs; layer pairs as independent) or, with
    fewer, the binomial delta method (pairs independent). Reported only (``contrasts_layer_t``);
    the verdict uses :func:`block_contrast`. Layer pairs where either network tested no pair
    (silent neurons) are listed in ``untested`` and left out."""
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
        return contrast_entry(None, None, None, layer_pairs=0, untested=untested)
    mean = float(np.mean(logs))
    if len(logs) >= 3:
        half = float(stats.t.ppf(0.975, len(logs) - 1) * np.std(logs, ddof=1) / np.sqrt(len(logs)))
        method = "t over layer pairs"
    else:
        half = Z95 * float(np.sqrt(np.sum(var))) / len(logs)
        method = "binomial (pairs as independent: understated)"
    return contrast_entry(mean, mean - half, mean + half, layer_pairs=len(logs), ci_method=method,
                     per_layer=logs, untested=untested)


def _blocks(layers: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Each layer pair's jackknife summary (``blocks``), or None when a layer pair lacks one."""
    out = [la.get("blocks") for la in layers]
    return out if layers and all(b is not None for b in out) else None


def _log2_rate(edges: np.ndarray, tested: np.ndarray) -> np.ndarray:
    """log2 of the edge rate with +0.5 / +1 (finite at 0 edges)."""
    return np.log2((edges + 0.5) / (tested + 1))


def block_edge_rate(layers: list[dict[str, Any]],
                    weights: list[float] | None = None) -> dict[str, Any]:
    """The edge rate of the block samples, pooled over the layer pairs within each jackknife
    replicate: ``value`` (all images), ``se``, 95% ``lo`` / ``hi``, ``edges``, ``tested``, and
    ``per_layer`` (each layer pair's own rate and CI).

    ``weights``: each layer pair's number of tested pairs over *all* its post neurons (fc's
    report). With them the pooled rate is stratified: each layer pair's sample rate weighted
    by its share of the run's tested pairs, so a sample of ``max_neurons`` post neurons per
    layer pair estimates the run's edge rate (edges / tested pairs) rather than a rate weighted
    by the sample sizes. Without them: the samples' edges / tested pairs."""
    blocks = _blocks(layers)
    if blocks is None:
        return jackknife([])
    e_l = np.array([b["edges"] for b in blocks], dtype=float)  # (layer pairs, 1 + replicates)
    t_l = np.array([b["tested"] for b in blocks], dtype=float)
    edges, tested = e_l.sum(axis=0), t_l.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if weights is None:
            rate = np.where(tested > 0, edges / tested, np.nan)
        else:
            w = np.asarray(weights, dtype=float)[:, None] * (t_l > 0)
            per = np.where(t_l > 0, e_l / t_l, 0.0)
            total = w.sum(axis=0)
            rate = np.where(total > 0, (w * per).sum(axis=0) / total, np.nan)
    per_layer = {}
    for la, e, t in zip(layers, e_l, t_l, strict=True):
        with np.errstate(invalid="ignore", divide="ignore"):
            per_layer[la["post_layer"]] = jackknife(np.where(t > 0, e / t, np.nan))
    return {**jackknife(rate), "edges": int(edges[0]), "tested": int(tested[0]),
            "n_sampled": int(sum(b["n_sampled"] for b in blocks)), "per_layer": per_layer,
            "pooling": "stratified by the layer pairs' tested pairs" if weights is not None
            else "sample edges / sample tested pairs"}


def block_contrast(trained: list[dict[str, Any]], control: list[dict[str, Any]]
                   ) -> dict[str, Any]:
    """log2(trained / control edge rate of the block samples), mean over the layer pairs both
    tested in every replicate, formed within each jackknife replicate (the same image groups in
    both networks, so the replicates are paired): CI from the jackknife. Layer pairs where
    either network tested no pair are listed in ``untested`` and left out."""
    by_post = {la["post_layer"]: la for la in control}
    logs, untested = [], []
    for la in trained:
        c = by_post.get(la["post_layer"])
        if c is None or la.get("blocks") is None or c.get("blocks") is None:
            continue
        t_b, c_b = la["blocks"], c["blocks"]
        if min(t_b["tested"]) == 0 or min(c_b["tested"]) == 0:
            untested.append(la["post_layer"])
            continue
        logs.append(_log2_rate(np.asarray(t_b["edges"], float), np.asarray(t_b["tested"], float))
                    - _log2_rate(np.asarray(c_b["edges"], float),
                                 np.asarray(c_b["tested"], float)))
    if not logs:
        return contrast_entry(None, None, None, layer_pairs=0, untested=untested)
    jk = jackknife(np.mean(logs, axis=0))
    return contrast_entry(jk["value"], jk["lo"], jk["hi"], se=jk["se"], layer_pairs=len(logs),
                     ci_method=f"image-block jackknife ({jk['n_groups']} groups)",
                     per_layer=[float(v[0]) for v in logs], untested=untested)


def _l2l(la: dict[str, Any]) -> np.ndarray | None:
    """A layer pair's like-to-like on all images then each replicate, or None when a value is
    missing (too few edges on the block sample)."""
    values = (la.get("blocks") or {}).get("like_to_like")
    if not values or any(v is None for v in values):
        return None
    return np.asarray(values, dtype=float)


def like_to_like_test(trained: list[dict[str, Any]],
                      controls: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Like-to-like (:mod:`fcgraph.analysis.principles`) of the block samples' edges, the part
    of finding 1's verdict that the principles contribute: the trained network's mean over
    layer pairs, and its trained - control difference over the layer pairs both measured,
    each formed within every jackknife replicate (image-block CIs).

    ``holds`` is True when the trained value's CI lower bound is above 0 and so is every
    measured control difference's; False when one is not; None when the trained network's is
    not measured. A control whose edges are too few to measure it in any layer pair is listed
    in ``unmeasured`` (it has no like-to-like structure to compare) and does not decide."""
    own = [v for la in trained if (v := _l2l(la)) is not None]
    mine = jackknife(np.mean(own, axis=0)) if own else jackknife([])
    per_control, unmeasured = {}, []
    for name, layers in controls.items():
        by_post = {la["post_layer"]: la for la in layers}
        diffs = [a - b for la in trained if (a := _l2l(la)) is not None
                 and (b := _l2l(by_post.get(la["post_layer"], {}))) is not None]
        if not diffs:
            unmeasured.append(name)
            continue
        jk = jackknife(np.mean(diffs, axis=0))
        per_control[name] = contrast_entry(jk["value"], jk["lo"], jk["hi"], se=jk["se"],
                                      layer_pairs=len(diffs))
    holds = None if mine["lo"] is None else bool(
        mine["lo"] > 0 and all(c["exceeds"] for c in per_control.values()))
    return {"trained": mine, "layer_pairs": len(own), "contrasts": per_control,
            "unmeasured": unmeasured, "holds": holds}


def _mean_ci(values: list[float]) -> tuple[float | None, float | None, float | None]:
    """Mean and its 95% t interval over layer pairs (no interval below 3 of them)."""
    if not values:
        return None, None, None
    mean = float(np.mean(values))
    if len(values) < 3:
        return mean, None, None
    half = float(stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1)
                 / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def principle_contrasts(trained: list[dict[str, Any]],
                        controls: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each named principle (:mod:`fcgraph.analysis.principles`) of the trained network, and
    its trained - control difference against each control network, over the layer pairs both
    measured (mean, 95% t interval over layer pairs: none below 3 pairs).

    A principle ``holds`` when every control's difference has a CI lower bound above 0 (and,
    for like-to-like and receptive-field enrichment, the trained value itself is above 0); it
    is None (not tested) without a control, or where a difference has no CI."""
    def value(la: dict[str, Any], key: str) -> float | None:
        return (la.get("principles") or {}).get(key)

    out: dict[str, Any] = {}
    for key in PRINCIPLES:
        own = [v for la in trained if (v := value(la, key)) is not None]
        mean, lo, hi = _mean_ci(own)
        per_control = {}
        for name, layers in controls.items():
            by_post = {la["post_layer"]: la for la in layers}
            diffs = [a - b for la in trained
                     if (a := value(la, key)) is not None
                     and (b := value(by_post.get(la["post_layer"], {}), key)) is not None]
            d, d_lo, d_hi = _mean_ci(diffs)
            per_control[name] = contrast_entry(d, d_lo, d_hi, layer_pairs=len(diffs))
        if mean is None or not per_control or any(c["lo"] is None for c in per_control.values()):
            holds = None
        else:
            holds = all(c["exceeds"] for c in per_control.values()) and \
                (key not in SIGNED or mean > 0)
        out[key] = {"trained": mean, "trained_lo": lo, "trained_hi": hi, "layer_pairs": len(own),
                    "contrasts": per_control, "holds": holds}
    return out


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
        return finding_result("1", None, None, None, False, details, "no tested pairs")
    w_lo, w_hi = wilson(edges, tested)
    block = block_edge_rate(layers, [_tested(analysis, la) for la in layers])
    details.update(edge_rate_all_neurons=edges / tested, edge_rate_wilson_lo=w_lo,
                   edge_rate_wilson_hi=w_hi,
                   edge_rate_wilson_ci="Wilson over all tested pairs (pairs as independent: "
                                       "understated; reported only)",
                   contrasts_layer_t={name: edge_rate_contrast(analysis, layers, ctl)
                                      for name, ctl in control_networks(analysis).items()},
                   principles=principle_contrasts(layers, control_networks(analysis)))
    if block["lo"] is None:
        details.update(block_edge_rate=block)
        return finding_result("1", None, None, None, False, details,
                        "no image-block jackknife of the edges (or no pair tested in a replicate)")
    rate, lo, hi = block["value"], block["lo"], block["hi"]
    contrasts = {name: block_contrast(layers, ctl) for name, ctl in control_networks(analysis).items()}
    details["checkpoint_contrasts"] = {name: block_contrast(layers, net)
                                       for name, net in checkpoint_networks(analysis).items()}
    details.update(edge_rate=rate, edge_rate_lo=lo, edge_rate_hi=hi, edge_rate_se=block["se"],
                   edge_rate_ci=f"image-block jackknife ({block['n_groups']} class-stratified "
                                "groups of images), on the block sample of post neurons, "
                                "pooled over layer pairs within each replicate",
                   block_edge_rate=block, contrasts=contrasts)
    l2l = like_to_like_test(layers, control_networks(analysis))
    details["like_to_like"] = l2l
    ok = lo >= 2 * false_rate and with_group / neurons >= 0.5
    supported, reason = verdict(ok, "trained edge rate or group coverage below the criterion",
                                 contrasts)
    if supported is True and l2l["holds"] is not True:
        failing = sorted(c for c, x in l2l["contrasts"].items() if not x["exceeds"])
        supported, reason = False, (
            "like-to-like not measured in the trained network" if l2l["holds"] is None
            else "the trained edges are not like-to-like" if l2l["trained"]["lo"] <= 0
            else "the trained edges are no more like-to-like than control " + ", ".join(failing))
    return finding_result("1", rate / false_rate, lo / false_rate, hi / false_rate, supported, details,
                    reason)
