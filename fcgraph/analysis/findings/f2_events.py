"""Finding 2: class encoding in rare high-cofiring events (event read-out against count-matched
spikes and random bins, and against each control network)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.analysis.contrasts import (
    holm,
    image_mean,
    paired_p,
)
from fcgraph.analysis.findings.common import (
    LAYER_ALPHA,
    above_chance,
    checkpoint_networks,
    contrast_entry,
    control_networks,
    finding_result,
    verdict,
)


def _readout_difference(first: str, second: str) -> Any:
    """A function: layer -> per-image (``first`` correct - ``second`` correct), or None."""
    def per_image(la: dict[str, Any]) -> np.ndarray | None:
        d = la["decoding"]
        x, y = d.get(first, {}).get("correct"), d.get(second, {}).get("correct")
        if x is None or y is None or len(x) != len(y):
            return None
        return np.asarray(x, float) - np.asarray(y, float)
    return per_image


event_minus_average = _readout_difference("event", "average")
event_minus_matched = _readout_difference("event", "matched")
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
    return contrast_entry(m["value"], m["lo"], m["hi"], n_images=m["n_images"], layers=names,
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
                for name, fn in (("matched", event_minus_matched), ("random", _event_minus_random),
                                 ("average", event_minus_average))}
    details: dict[str, Any] = {
        "median_event_fraction": frac, "layers_event_above_shuffle": beats,
        "event_minus_matched": compared["matched"], "event_minus_random": compared["random"],
        "event_minus_average": compared["average"],
        "percentile_sweep": percentile_sweep(layers),
        "event_minus_matched_heldout": image_mean(
            [h["per_image"] for la in layers
             if (h := la["events"].get("heldout")) and h.get("per_image") is not None]),
        "ci": "images resampled, layers of an image together"}
    m = compared["matched"]
    if m["value"] is None:
        return finding_result("2", None, None, None, False, details,
                        "no layer could be decoded (no neuron with a group to analyse)")
    contrasts = {name: decoding_contrast(layers, ctl, event_minus_matched, absent_is_zero=True)
                 for name, ctl in control_networks(analysis).items()}
    details["contrasts"] = contrasts
    details["checkpoint_contrasts"] = {
        name: decoding_contrast(layers, net, event_minus_matched, absent_is_zero=True)
        for name, net in checkpoint_networks(analysis).items()}
    r = compared["random"]
    ok = (frac is not None and frac <= 0.10 and m["lo"] > 0 and r["lo"] is not None
          and r["lo"] > 0 and bool(beats))
    supported, reason = verdict(ok, "the trained network's event spikes do not out-decode as "
                                     "many of its other spikes or random bins", contrasts)
    return finding_result("2", m["value"], m["lo"], m["hi"], supported, details, reason)
