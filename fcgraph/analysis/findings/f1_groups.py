"""Finding 1: 1FC groups are significant pairwise correlations (edge rate against the measured
false-edge rate, and against each control network)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from fcgraph.analysis.contrasts import (
    Z95,
    wilson,
)
from fcgraph.analysis.findings.common import (
    _contrast,
    _controls,
    _finding,
    _verdict,
)


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
