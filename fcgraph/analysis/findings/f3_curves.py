"""Finding 3: ReLU-like input-output curves whose gain scales with group size (against same-size
random groups and each control network), on curves fitted on images that did not select the
groups (:mod:`fcgraph.analysis.io_heldout`; ReLU-like by held-out likelihood,
:mod:`fcgraph.analysis.curve_models`)."""

from __future__ import annotations

from typing import Any

from fcgraph.analysis.contrasts import (
    difference,
    pool,
    se_from_ci,
    wilson,
)
from fcgraph.analysis.findings.common import (
    _controls,
    _finding,
    _triple,
    _verdict,
)


def _pooled_beta(rows: list[dict[str, Any]]) -> tuple[float | None, float | None, float | None]:
    rows = [g for g in rows if g and g.get("beta") is not None]
    return pool([g["beta"] for g in rows], [se_from_ci(g["beta_lo"], g["beta_hi"]) for g in rows],
                [g["n"] for g in rows])


def io_summary(layers: list[dict[str, Any]], sample: str = "out_of_sample") -> dict[str, Any]:
    """A network's input-output curves (``sample``: ``out_of_sample``, groups selected on one
    half of the images and curves fitted on the other; or ``in_sample``): the ReLU-like share
    (Wilson CI) of its groups and of same-size random groups; the gain law's exponent beta (log
    gain on log size, pooled over layers) of both and their difference ``beta_excess`` (the size
    scaling that random groups of the same sizes do not have); and the pooled within-layer
    rho(gain, size)."""
    blocks = [la["io"].get(sample) or {} for la in layers]
    n_fit = sum(b.get("n_fitted", 0) for b in blocks)
    n_tl = sum(b.get("n_relu_like", 0) for b in blocks)
    rand = [b.get("random_groups") or {} for b in blocks]
    r_fit, r_tl = sum(r.get("n_fitted", 0) for r in rand), sum(r.get("n_relu_like", 0)
                                                              for r in rand)
    rows = [g for b in blocks if (g := b.get("gain_vs_size") or {}).get("rho") is not None
            and g.get("rho_lo") is not None]
    rho = pool([g["rho"] for g in rows], [se_from_ci(g["rho_lo"], g["rho_hi"]) for g in rows],
               [g["n"] for g in rows])
    excess = []
    for b, r in zip(blocks, rand, strict=True):
        d = difference(_triple(b.get("gain_law") or {}, "beta"),
                       _triple(r.get("gain_law") or {}, "beta"))
        if d[0] is not None:
            excess.append((d, b.get("n_fitted", 0)))
    beta_excess = pool([d[0] for d, _ in excess], [se_from_ci(d[1], d[2]) for d, _ in excess],
                       [n for _, n in excess])
    share = (n_tl / n_fit, *wilson(n_tl, n_fit)) if n_fit else (None, None, None)
    r_share = (r_tl / r_fit, *wilson(r_tl, r_fit)) if r_fit else (None, None, None)
    share_excess = difference(share, r_share) if r_fit else (None, None, None)
    beta = _pooled_beta([b.get("gain_law") for b in blocks])
    beta_random = _pooled_beta([r.get("gain_law") for r in rand])
    out = {"sample": sample, "n_fitted": n_fit, "n_relu_like": n_tl,
           "n_candidates": sum(b.get("n_candidates", 0) for b in blocks),
           "n_small_group": sum(b.get("n_small_group", 0) for b in blocks),
           "random_n_fitted": r_fit, "random_n_relu_like": r_tl, "layers_with_rho": len(rows),
           "per_layer_rho": [g["rho"] for g in rows]}
    for name, t in (("share", share), ("random_share", r_share), ("share_excess", share_excess),
                    ("beta", beta), ("beta_random", beta_random), ("beta_excess", beta_excess),
                    ("rho", rho)):
        out.update({name: t[0], f"{name}_lo": t[1], f"{name}_hi": t[2]})
    return out


def io_contrast(trained: dict[str, Any], control: dict[str, Any]) -> dict[str, Any]:
    """ReLU-like share and beta excess, trained - control; exceeds when both CIs are
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
                               "ci": "neurons as independent units within a layer",
                               "in_sample": io_summary(analysis["layers"], "in_sample")}
    if trained["n_fitted"] < 10:
        return _finding("3", None, None, None, False, details,
                        f"fewer than 10 neurons fitted out of sample ({trained['n_small_group']} "
                        f"of {trained['n_candidates']} with a half-image group below min_group)")
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
        ok, f"out of sample, ReLU-like share {trained['share']:.2f} (random groups "
            f"{trained['random_share']:.2f}); the gain {direction} with group size relative to "
            f"same-size random groups", contrasts)
    return _finding("3", trained["beta_excess"], trained["beta_excess_lo"],
                    trained["beta_excess_hi"], supported, details, reason)
