"""Finding 3: ReLU-like input-output curves whose gain scales with group size (against same-size
random groups and each control network), on curves fitted on images that did not select the
groups (:mod:`fcgraph.analysis.io_heldout`; ReLU-like by held-out likelihood,
:mod:`fcgraph.analysis.curve_models`).

Every statistic of the verdict is computed on all the fitting images and on each image-block
jackknife replicate (:mod:`fcgraph.analysis.blocks`: the same class-stratified image groups in
every layer pair and network), pooled over the layers within each replicate, and its 95% CI is
the jackknife's: the images, not the neurons, are the units of resampling, and the dependence of
the layers through their shared images is carried into the pooled interval. A contrast with a
control network (recorded on the same images) is formed within each replicate too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.analysis.blocks import jackknife
from fcgraph.analysis.contrasts import pool, se_from_ci
from fcgraph.analysis.findings.common import checkpoint_networks, control_networks, finding_result, verdict

#: the statistics of :func:`io_summary` with a jackknife CI (their replicate values under
#: ``jackknife``)
JACKKNIFED = ("share", "random_share", "share_excess", "beta", "beta_random", "beta_excess")


def _columns(block: dict[str, Any], key: str, law_key: str | None = None) -> np.ndarray:
    """A layer's ``key`` on all images, then on each replicate: float (G + 1,), or (1,) when
    the block has no replicates (in sample). ``law_key``: the all-images value is
    ``gain_law[law_key]``."""
    reps = (block.get("replicates") or {}).get(key) or []
    first = (block.get("gain_law") or {}).get(law_key) if law_key else block.get(key)
    return np.array([np.nan if v is None else v for v in [first, *reps]], dtype=float)


def _weighted(values: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray | None:
    """Per column, the mean of the layers' values weighted by their weights, over the layers
    whose value is finite in every column (None without such a layer)."""
    rows = [(v, w) for v, w in zip(values, weights, strict=True) if np.all(np.isfinite(v))]
    if not rows:
        return None
    v, w = np.array([r[0] for r in rows]), np.array([r[1] for r in rows], dtype=float)
    total = w.sum(0)
    return np.where(total > 0, (v * w).sum(0) / np.where(total > 0, total, 1.0), np.nan)


def _share(blocks: list[dict[str, Any]]) -> np.ndarray | None:
    fitted = [_columns(b, "n_fitted") for b in blocks]
    relu = [_columns(b, "n_relu_like") for b in blocks]
    if not fitted:
        return None
    total = np.sum(fitted, axis=0)
    return np.where(total > 0, np.sum(relu, axis=0) / np.where(total > 0, total, 1.0), np.nan)


def _jackknifed(name: str, columns: np.ndarray | None) -> dict[str, Any]:
    values = [None] if columns is None else [None if not np.isfinite(v) else float(v)
                                             for v in columns]
    j = jackknife(values)
    return {name: j["value"], f"{name}_lo": j["lo"], f"{name}_hi": j["hi"]}


def io_summary(layers: list[dict[str, Any]], sample: str = "out_of_sample") -> dict[str, Any]:
    """A network's input-output curves (``sample``: ``out_of_sample``, groups selected on one
    half of the images and curves fitted on the other; or ``in_sample``): the ReLU-like share of
    its groups and of same-size random groups (over all layers' fitted neurons) and their
    difference ``share_excess``; the gain law's exponent beta (log gain on log size, the layers'
    mean weighted by their fitted neurons) of both and the layers' mean difference
    ``beta_excess`` (the size scaling that random groups of the same sizes do not have; when the
    random groups' mean gain ``random_mean_gain`` is not above 0, ``random_without_gain``, they
    have no size law and ``beta_excess`` is beta itself, against a flat law). Out of
    sample each has a jackknife CI (``*_lo`` / ``*_hi``) and its replicate values under
    ``jackknife`` (all images first); in sample, values only (CIs None). ``rho``: the within-layer
    Spearman rho(gain, size), pooled, described only (its CI resamples neurons)."""
    blocks = [la["io"].get(sample) or {} for la in layers]
    rand = [b.get("random_groups") or {} for b in blocks]
    beta = _weighted([_columns(b, "beta", "beta") for b in blocks],
                     [_columns(b, "n_beta", "n") for b in blocks])
    beta_random = _weighted([_columns(r, "beta", "beta") for r in rand],
                            [_columns(r, "n_beta", "n") for r in rand])
    # random groups without a gain (mean gain not above 0) have no size law to compare with:
    # the groups' own law is then compared with a flat one
    random_gain = _jackknifed("random_mean_gain", _weighted(
        [_columns(r, "mean_gain") for r in rand], [_columns(r, "n_fitted") for r in rand]))
    flat = not (random_gain["random_mean_gain_lo"] or 0) > 0
    excess = [_columns(b, "beta", "beta") - (0.0 if flat else _columns(r, "beta", "beta"))
              for b, r in zip(blocks, rand, strict=True)]
    share, r_share = _share(blocks), _share(rand)
    columns = {"share": share, "random_share": r_share,
               "share_excess": None if share is None or r_share is None else share - r_share,
               "beta": beta, "beta_random": beta_random,
               "beta_excess": _weighted(excess, [_columns(b, "n_fitted") for b in blocks])
               if any(r.get("n_fitted") for r in rand) else None}
    rows = [g for b in blocks if (g := b.get("gain_vs_size") or {}).get("rho") is not None
            and g.get("rho_lo") is not None]
    rho = pool([g["rho"] for g in rows], [se_from_ci(g["rho_lo"], g["rho_hi"]) for g in rows],
               [g["n"] for g in rows])
    n_fit = sum(b.get("n_fitted", 0) for b in blocks)
    n_tl = sum(b.get("n_relu_like", 0) for b in blocks)
    out: dict[str, Any] = {
        "sample": sample, "n_fitted": n_fit, "n_relu_like": n_tl,
        "n_candidates": sum(b.get("n_candidates", 0) for b in blocks),
        "n_small_group": sum(b.get("n_small_group", 0) for b in blocks),
        "random_n_fitted": sum(r.get("n_fitted", 0) for r in rand),
        "random_n_relu_like": sum(r.get("n_relu_like", 0) for r in rand),
        **random_gain, "random_without_gain": flat and any(r.get("n_fitted") for r in rand),
        "layers_with_rho": len(rows), "per_layer_rho": [g["rho"] for g in rows],
        "rho": rho[0], "rho_lo": rho[1], "rho_hi": rho[2],
        "jackknife": {k: None if v is None else v.tolist() for k, v in columns.items()}}
    for name in JACKKNIFED:
        out.update(_jackknifed(name, columns[name]))
    return out


def io_contrast(trained: dict[str, Any], control: dict[str, Any]) -> dict[str, Any]:
    """ReLU-like share and beta excess, trained - control, within each jackknife replicate;
    exceeds when both CIs are above 0. A control without a fitted neuron (no groups) counts as
    0 for both."""
    absent = control["n_fitted"] == 0

    def diff(name: str) -> dict[str, Any]:
        mine, theirs = trained["jackknife"][name], control["jackknife"].get(name)
        if mine is None:
            return _jackknifed(name, None)
        other = np.zeros(len(mine)) if absent or theirs is None else np.asarray(theirs, float)
        return _jackknifed(name, np.asarray(mine, dtype=float) - other)

    share, beta = diff("share"), diff("beta_excess")
    return {"value": share["share"], "lo": share["share_lo"], "hi": share["share_hi"],
            "beta_excess_difference": beta["beta_excess"],
            "beta_excess_difference_lo": beta["beta_excess_lo"],
            "beta_excess_difference_hi": beta["beta_excess_hi"],
            "exceeds": bool(share["share_lo"] is not None and share["share_lo"] > 0
                            and beta["beta_excess_lo"] is not None
                            and beta["beta_excess_lo"] > 0),
            "control_without_groups": absent}


def finding_3(analysis: dict[str, Any], alpha: float) -> dict[str, Any]:
    trained = io_summary(analysis["layers"])
    details: dict[str, Any] = {**trained, "alpha": alpha,
                               "ci": "image-block jackknife over the fitting images, layers "
                                     "pooled within each replicate",
                               "in_sample": io_summary(analysis["layers"], "in_sample")}
    if trained["n_fitted"] < 10:
        return finding_result("3", None, None, None, False, details,
                        f"fewer than 10 neurons fitted out of sample ({trained['n_small_group']} "
                        f"of {trained['n_candidates']} with a half-image group below min_group)")
    if trained["beta_excess_lo"] is None or trained["share_excess_lo"] is None:
        return finding_result("3", None, None, None, False, details,
                        "gain law not estimable against same-size random groups on every "
                        "jackknife replicate")
    contrasts = {name: io_contrast(trained, io_summary(ctl))
                 for name, ctl in control_networks(analysis).items()}
    details["contrasts"] = contrasts
    details["checkpoint_contrasts"] = {name: io_contrast(trained, io_summary(net))
                                       for name, net in checkpoint_networks(analysis).items()}
    ok = (trained["share_lo"] >= 0.5 and trained["share_excess_lo"] > 0
          and trained["beta_excess_lo"] > 0)
    direction = ("rises" if trained["beta_excess_lo"] > 0 else "falls"
                 if trained["beta_excess_hi"] < 0 else "is flat")
    supported, reason = verdict(
        ok, f"out of sample, ReLU-like share {trained['share']:.2f} (random groups "
            f"{trained['random_share']:.2f}); the gain {direction} with group size relative to "
            f"same-size random groups", contrasts)
    return finding_result("3", trained["beta_excess"], trained["beta_excess_lo"],
                    trained["beta_excess_hi"], supported, details, reason)
