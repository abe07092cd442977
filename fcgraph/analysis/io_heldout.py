"""Input-output curves fitted on images that did not select the groups (finding 3).

A 1FC group chosen on the same bins its curve is fitted on is chosen *for* that curve (its
members are the pre neurons that cofire with the post neuron in those bins), which inflates the
fit. Here each sampled post neuron's group is selected by fc's own rule
(:func:`~fcgraph.analysis.image_subsets.edges_on_images`) on one half of the images
(:func:`~fcgraph.analysis.pair.heldout_split`, seeded, class-stratified), and its curve, its
shape (:func:`~fcgraph.analysis.curve_models.compare_models`), its gain (the threshold-linear
least-squares fit, :func:`~fcgraph.analysis.io_curve.fit_curve`) and the gain law are measured on
the other half only, beside same-size random groups on that half (:data:`RANDOM_DRAWS` per
neuron for their gain law). The same measures of the
groups of all images on all images are reported as ``in_sample`` (without random groups: the
in-sample ``io`` has them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.analysis.config import AnalysisConfig
from fcgraph.analysis.curve_models import MODELS, compare_models
from fcgraph.analysis.groups import Groups
from fcgraph.analysis.image_subsets import edges_on_images, image_bins
from fcgraph.analysis.io_curve import fit_curve, gain_law, gain_vs_size, random_groups, response_curve
from fcgraph.analysis.pair import aggregate_k, heldout_split
from fcgraph.spikes import unpack

#: same-size random groups drawn per fitted neuron for the random groups' gain law (the first
#: draw's curves also give their ReLU-like share)
RANDOM_DRAWS = 8


def io_fits(rec: Any, condition: str, pre: str, post: str, groups: Groups, sampled: np.ndarray,
            config: AnalysisConfig) -> dict[str, Any]:
    """``{"in_sample": ..., "out_of_sample": ...}`` for one network's layer pair.

    Parameters
    ----------
    rec, condition : the recording and the network's condition (its own edges: fc's rule is
        rerun on it for the out-of-sample groups).
    pre, post : the layer pair.
    groups : the network's groups on all images (in-sample).
    sampled : int64 the sampled post neurons.
    config : the analysis' parameters (``min_group``, ``min_spikes``, ``folds``, ``alpha``,
        ``seed``, ``chunk``).

    Returns
    -------
    ``in_sample`` as :func:`_curves` gives it (no random groups: the in-sample ``io`` has
    them); ``out_of_sample`` as :func:`fit_block` with ``n_candidates`` (sampled neurons),
    ``n_small_group`` (their half-image group below ``min_group``: not fitted) and
    the numbers of images that selected and that fitted.
    """
    labels = np.asarray(rec.labels)
    select, fit = heldout_split(labels, config.seed)
    pre_packed = rec.packed(condition, pre)
    sampled = np.asarray(sampled, dtype=np.int64)
    post_sp = unpack(np.asarray(rec.packed(condition, post).packed[sampled]), rec.L) \
        if sampled.size else np.zeros((0, rec.L), dtype=bool)
    candidates = np.flatnonzero(pre_packed.spike_counts() >= config.min_spikes)
    order = rec.layer(post).order
    # in sample: the groups only (the in-sample random groups are io["random_groups"])
    in_sample = _curves(pre_packed, post_sp, [groups.members(j) for j in sampled],
                        image_bins(np.arange(rec.n_images), rec.T), labels, rec, config)
    if sampled.size:
        edges, _ = edges_on_images(rec, condition, pre, post, select, sampled)
        half = Groups(edges["pre_idx"].to_numpy(), edges["post_idx"].to_numpy(),
                      rec.layer(post).n_neurons)
        members = [half.members(j) for j in sampled]
    else:
        members = []
    keep = [i for i, m in enumerate(members) if m.size >= config.min_group]
    out = fit_block(pre_packed, post_sp[keep], [members[i] for i in keep], fit, labels, rec,
                    config, candidates, np.random.default_rng([config.seed, 23, order, 1]))
    out.update(n_candidates=int(sampled.size), n_small_group=int(sampled.size - len(keep)),
               n_select_images=int(select.size), n_fit_images=int(fit.size))
    return {"in_sample": in_sample, "out_of_sample": out}


def fit_block(pre_packed: Any, post_sp: np.ndarray, members: list[np.ndarray],
              images: np.ndarray, labels: np.ndarray, rec: Any, config: AnalysisConfig,
              candidates: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """The curves of the post rows ``post_sp`` (bool (n, L)) with the groups ``members`` on the
    bins of ``images`` only, and of same-size random groups (drawn from ``candidates`` with
    ``rng``) on the same bins: :func:`_curves` of each, the random ones under
    ``random_groups``."""
    bins = image_bins(images, rec.T)
    out = _curves(pre_packed, post_sp, members, bins, labels[images], rec, config)
    if candidates.size and members:
        sizes = np.array([m.size for m in members])
        rand = [random_groups(sizes, candidates, rng) for _ in range(RANDOM_DRAWS)]
        out["random_groups"] = _curves(pre_packed, post_sp, rand[0], bins, labels[images], rec,
                                       config)
        # the gain law of random groups over every draw (gains only: a closed-form fit each)
        k = aggregate_k(pre_packed.packed, rec.L, [m for r in rand for m in r],
                        config.chunk)[:, bins]
        rows = np.tile(np.arange(len(members)), RANDOM_DRAWS)
        fits = [(k[i], post_sp[j, bins]) for i, j in enumerate(rows)]
        curves = [response_curve(ki, yi) for ki, yi in fits]
        ok = [i for i, c in enumerate(curves) if c[0].size >= 3]
        gains = [fit_curve(*curves[i]).gain for i in ok]
        out["random_groups"]["gain_law"] = gain_law(np.tile(sizes, RANDOM_DRAWS)[ok], gains)
        out["random_groups"]["draws"] = RANDOM_DRAWS
    else:
        out["random_groups"] = _curves(pre_packed, post_sp[:0], [], bins, labels[images], rec,
                                       config)
    return out


def _curves(pre_packed: Any, post_sp: np.ndarray, members: list[np.ndarray], bins: np.ndarray,
            labels: np.ndarray, rec: Any, config: AnalysisConfig) -> dict[str, Any]:
    """Fitted curves of groups ``members`` against post rows ``post_sp`` on ``bins``: counts
    (fitted: >= 3 k values; ReLU-like; best model), the median held-out gains over line and
    sigmoid (bits per image), the gain law and gain vs size of the threshold-linear gains."""
    k = aggregate_k(pre_packed.packed, rec.L, members, config.chunk)[:, bins] if members \
        else np.zeros((0, bins.size), dtype=np.int64)
    sizes, gains, relu, over_line, over_sigmoid = [], [], 0, [], []
    best = dict.fromkeys(MODELS, 0)
    for i, mem in enumerate(members):
        y = post_sp[i, bins]
        ks, n, p = response_curve(k[i], y)
        if ks.size < 3:
            continue
        cmp = compare_models(k[i], y, rec.T, labels, folds=config.folds, seed=config.seed,
                             alpha=config.alpha)
        sizes.append(mem.size)
        gains.append(fit_curve(ks, n, p).gain)
        relu += bool(cmp["relu_like"])
        if cmp["best"] is not None:
            best[cmp["best"]] += 1
            over_line.append(cmp["over_line"])
            over_sigmoid.append(cmp["over_sigmoid"])
    return {"n_fitted": len(gains), "n_relu_like": relu, "best_model": best,
            "median_over_line": float(np.median(over_line)) if over_line else None,
            "median_over_sigmoid": float(np.median(over_sigmoid)) if over_sigmoid else None,
            "gain_law": gain_law(sizes, gains),
            "gain_vs_size": gain_vs_size(sizes, gains, seed=config.seed)}
