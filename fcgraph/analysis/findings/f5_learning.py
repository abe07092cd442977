"""Finding 5: shaped by learning, broken by weight permutation (properties compared across
networks, not neuron indices)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.analysis.contrasts import (
    pool,
    se_from_ci,
)
from fcgraph.analysis.findings.common import (
    NO_CONTROL,
    _by_role,
    _controls,
    _finding,
    above_chance,
)
from fcgraph.analysis.findings.f2_events import decoding_contrast


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
