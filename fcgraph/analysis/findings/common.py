"""What the findings share: condition roles, the verdict rule, the result record and the
terminal summary."""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.analysis.contrasts import (
    holm,
)
from fcgraph.analysis.findings.criteria import CLAIMS, CRITERIA, STATISTICS
from fcgraph.contract import parse_condition

NOISE_KINDS = ("uniform", "gaussian", "fgsm", "pgd")
FLOOR_KINDS = ("uniform", "gaussian")
LEARNING_KINDS = ("permute", "untrained")
#: a training checkpoint (``epoch:E``): analysed like a control network, reported, never gating
CHECKPOINT_KINDS = ("epoch",)
#: noise level (pixel units) up to which a uniform / gaussian condition is a reliability floor
FLOOR_LEVEL = 0.01
#: family-wise level of the per-layer contrasts (Holm)
LAYER_ALPHA = 0.05
NO_CONTROL = ("not tested against a control network: record permute:layer or untrained "
              "(fcgraph record --condition)")


def condition_role(name: str) -> str:
    """What a recorded condition is to the findings: "trained" (clean), "control" (another
    network: permute, untrained), "checkpoint" (the network after a training epoch, ``epoch:E``:
    analysed like a control, reported, never gating a verdict), "floor" (negligible noise),
    "perturbation" (noise or attack above the floor) or "other"."""
    if name == "clean":
        return "trained"
    info = parse_condition(name)
    if info.kind in LEARNING_KINDS:
        return "control"
    if info.kind in CHECKPOINT_KINDS:
        return "checkpoint"
    if info.kind in FLOOR_KINDS and info.level is not None and info.level <= FLOOR_LEVEL:
        return "floor"
    return "perturbation" if info.kind in NOISE_KINDS else "other"


def finding_result(fid: str, value: Any, lo: Any, hi: Any, supported: bool | None,
                   details: dict[str, Any], reason: str = "") -> dict[str, Any]:
    """A finding's record: its id, claim, statistic and criterion (:mod:`.criteria`), the
    statistic's ``value`` with its CI (``ci_low``, ``ci_high``), the verdict ``supported``
    (None: not tested), the ``reason`` when not supported, and ``details``."""
    return {"id": fid, "claim": CLAIMS[fid], "statistic": STATISTICS[fid], "value": value,
            "ci_low": lo, "ci_high": hi, "criterion": CRITERIA[fid], "supported": supported,
            "reason": reason, "details": details}


def verdict(trained_ok: bool, why_not: str, contrasts: dict[str, dict[str, Any]]
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


def _networks(analysis: dict[str, Any], role: str) -> dict[str, list[dict[str, Any]]]:
    """The other networks of ``role`` ("control" or "checkpoint") analysed with their own
    groups: name -> layers."""
    return {name: net["layers"] for name, net in analysis.get("networks", {}).items()
            if net.get("layers") and condition_role(name) == role}


def control_networks(analysis: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Control networks analysed with their own groups: name -> layers (the verdicts' controls;
    training checkpoints are not among them)."""
    return _networks(analysis, "control")


def checkpoint_networks(analysis: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Training checkpoints (``epoch:E``) analysed with their own groups: name -> layers."""
    return _networks(analysis, "checkpoint")


def _triple(d: dict[str, Any], prefix: str) -> tuple[Any, Any, Any]:
    return d.get(prefix), d.get(f"{prefix}_lo"), d.get(f"{prefix}_hi")


def contrast_entry(value: Any, lo: Any, hi: Any, **extra: Any) -> dict[str, Any]:
    """A trained-minus-control contrast: its value, CI and whether it ``exceeds`` (CI lower
    bound > 0), with any ``extra`` keys."""
    return {"value": value, "lo": lo, "hi": hi, "exceeds": lo is not None and lo > 0, **extra}


def above_chance(layers: list[dict[str, Any]], readout: str) -> list[str]:
    """Post layers whose ``readout`` decodes the class above chance: label-permutation p-value,
    Holm-adjusted over the layers, below LAYER_ALPHA."""
    ps = [la["decoding"].get(readout, {}).get("p_permutation") for la in layers]
    return [la["post_layer"] for la, p in zip(layers, holm(ps), strict=True)
            if p is not None and p < LAYER_ALPHA]



def conditions_by_role(analysis: dict[str, Any], role: str) -> dict[str, list[dict[str, Any]]]:
    """The recorded conditions of ``role`` (:func:`condition_role`) with edge statistics:
    name -> layers."""
    return {name: c["layers"] for name, c in analysis.get("conditions", {}).items()
            if condition_role(name) == role
            and any("edges" in la or "blocks" in la for la in c["layers"])}



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


def mean_readout_accuracy(layers: list[dict[str, Any]], readout: str) -> float | None:
    """Mean over post layers of the ``readout`` read-out's decoding accuracy ("event",
    "average", ...); None when no layer has one."""
    acc = [a for la in layers
           if (a := la.get("decoding", {}).get(readout, {}).get("accuracy")) is not None]
    return float(np.mean(acc)) if acc else None
