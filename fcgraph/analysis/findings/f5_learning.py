"""Finding 5: shaped by learning, broken by weight permutation (properties compared across
networks, not neuron indices).

Training checkpoints (``epoch:E``) and the untrained network (epoch 0) make a training
trajectory beside the verdict (``details["training"]``): each network's average read-out
decoding and its contrasts with the trained network. It is reported only: a network a few epochs
into training may decode as well as the final one, which says nothing against the claim.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from fcgraph.analysis.contrasts import (
    pool,
    se_from_ci,
)
from fcgraph.analysis.findings.common import (
    NO_CONTROL,
    above_chance,
    condition_role,
    conditions_by_role,
    control_networks,
    finding_result,
    mean_readout_accuracy,
)
from fcgraph.analysis.findings.f2_events import decoding_contrast
from fcgraph.contract import parse_condition


def _average_correct(la: dict[str, Any]) -> np.ndarray | None:
    c = la["decoding"]["average"].get("correct")
    return None if c is None else np.asarray(c, float)


def final_epoch(analysis: dict[str, Any]) -> int | str:
    """The epochs the trained (clean) network was trained for, from the recording's
    provenance (the checkpoint's config); "final" when the run does not say."""
    model = analysis.get("provenance", {}).get("recording_provenance", {}).get("model", {})
    done = (model.get("metrics") or {}).get("epochs_done", (model.get("training") or {}).get("epochs"))
    return int(done) if isinstance(done, int | float) and not isinstance(done, bool) else "final"


def _epoch_of(name: str) -> int | None:
    """The training epoch of a recorded network: 0 for ``untrained``, E for ``epoch:E``,
    None for any other condition."""
    if name == "untrained":
        return 0
    level = parse_condition(name).level  # epoch:E has E >= 1, a whole number
    return int(level) if condition_role(name) == "checkpoint" and level is not None else None


def _brief(c: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if c is None else {k: c.get(k) for k in ("value", "lo", "hi", "exceeds")}


#: The findings whose trained - network contrast each network of the trajectory lists.
TRAJECTORY_FINDINGS = ("1", "2", "3", "5")


def training_trajectory(analysis: dict[str, Any], earlier: list[dict[str, Any]]
                        ) -> dict[str, Any]:
    """The networks of the training in epoch order: ``untrained`` (epoch 0), each ``epoch:E``
    and the trained one (clean, :func:`final_epoch`), each with its mean average-read-out
    decoding accuracy (over post layers) and, but for the trained one, its contrasts with
    the trained network: ``"5"`` the average decoding (trained - network, per image), ``"1"``
    to ``"3"`` those findings 1-3 computed for it (their ``contrasts`` or
    ``checkpoint_contrasts``). ``spearman_rho`` / ``spearman_p``: decoding accuracy against
    epoch (the trained network last), with >= 3 networks. Reported only, never gating.
    """
    conditions = analysis.get("conditions", {})
    named = sorted((e, n) for n in conditions if (e := _epoch_of(n)) is not None)
    final = final_epoch(analysis)
    rows = []
    for epoch, name in named:
        layers = conditions[name]["layers"]
        contrasts = {f["id"]: _brief(f["details"].get("contrasts", {}).get(name)
                                     or f["details"].get("checkpoint_contrasts", {}).get(name))
                     for f in earlier}
        contrasts["5"] = _brief(decoding_contrast(analysis["layers"], layers, _average_correct))
        rows.append({"network": name, "epoch": epoch, "role": condition_role(name),
                     "accuracy": conditions[name].get("accuracy"),
                     "average_decoding": mean_readout_accuracy(layers, "average"),
                     "contrasts": {k: v for k, v in contrasts.items() if v is not None}})
    rows.append({"network": "clean", "epoch": final, "role": "trained",
                 "accuracy": analysis.get("clean_accuracy"),
                 "average_decoding": mean_readout_accuracy(analysis["layers"], "average"), "contrasts": {}})
    # "final": after every kept epoch
    epochs = [r["epoch"] if isinstance(r["epoch"], int) else named[-1][0] + 1 if named else 1
              for r in rows]
    have = [i for i, r in enumerate(rows) if r["average_decoding"] is not None]
    rho, p = None, None
    if len(have) >= 3:
        res = stats.spearmanr([epochs[i] for i in have], [rows[i]["average_decoding"] for i in have])
        if np.isfinite(res.statistic):
            rho, p = float(res.statistic), float(res.pvalue)
    return {"networks": rows, "spearman_rho": rho, "spearman_p": p,
            "rule": "reported only: training checkpoints gate no verdict"}


def reported_trajectory(found: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Finding 5's training trajectory among ``found`` (the findings of an ``analysis.json``)
    when the run recorded a network of the training besides the trained one, else None."""
    f5 = next((f["details"] for f in found if f["id"] == "5"), {})
    training = f5.get("training") or {}
    return training if len(training.get("networks", [])) >= 2 else None


def finding_5(analysis: dict[str, Any], earlier: list[dict[str, Any]]) -> dict[str, Any]:
    """``earlier``: findings 1-3 (their per-control contrasts are the structural properties).
    Training checkpoints are reported in ``details["training"]``
    (:func:`training_trajectory`), never as controls."""
    controls = {name: analysis["conditions"][name]["layers"] for name in control_networks(analysis)
                if name in analysis.get("conditions", {})}
    clean_above_shuffle = above_chance(analysis["layers"], "average")
    survival = {}
    for name, layers in conditions_by_role(analysis, "control").items():
        rows = [r["edges"] for r in layers if r.get("edges", {}).get("neuron_survival") is not None]
        if rows:
            survival[name] = pool([r["neuron_survival"] for r in rows],
                                  [se_from_ci(r["neuron_survival_lo"], r["neuron_survival_hi"])
                                   for r in rows])
    details: dict[str, Any] = {"controls": sorted(controls),
                               "clean_decoding_above_shuffle": clean_above_shuffle,
                               "index_survival (not tested)": survival,
                               "training": training_trajectory(analysis, earlier)}
    if not controls:
        return finding_result("5", None, None, None, None, details, NO_CONTROL)
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
        return finding_result("5", None, None, None, False, details, "no read-out to compare")
    mean, lo, hi = pool(values, ses)
    ok = all(p["supported"] for p in per.values()) and bool(clean_above_shuffle)
    reason = "" if ok else "a control network decodes as well or shares findings 1-3's " \
                           "properties, or the trained read-out is at chance"
    return finding_result("5", mean, lo, hi, bool(ok), details, reason)
