"""Input-output curves fitted on images that did not select the groups (finding 3).

A 1FC group chosen on the same bins its curve is fitted on is chosen *for* that curve (its
members are the pre neurons that cofire with the post neuron in those bins), which inflates the
fit. Here each sampled post neuron's group is selected by fc's own rule
(:func:`~fcgraph.analysis.image_subsets.edges_on_images`) on one half of the images
(:func:`~fcgraph.analysis.pair.heldout_split`, seeded, class-stratified), and its curve, its
shape (:func:`~fcgraph.analysis.curve_models.compare_models`), its gain (the threshold-linear
least-squares fit, :func:`~fcgraph.analysis.io_curve.fit_curve`) and the gain law are measured on
the other half only, beside same-size random groups on that half (:data:`RANDOM_DRAWS` per
neuron for their gain law). Every one of these is also measured on each image-block jackknife
replicate of the fitting half (:mod:`fcgraph.analysis.blocks`: all its images but one group,
the analysis' groups), refitted on the replicate's images, so the finding's CIs resample images,
not neurons (``replicates``). The same measures of the
groups of all images on all images are reported as ``in_sample`` (without random groups: the
in-sample ``io`` has them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.analysis.blocks import image_groups
from fcgraph.analysis.config import AnalysisConfig
from fcgraph.analysis.curve_models import MODELS, compare_models, image_cells, replicate_masks
from fcgraph.analysis.groups import Groups
from fcgraph.analysis.image_subsets import edges_on_images, image_bins, trains_on_images
from fcgraph.analysis.io_curve import gain_law, gain_vs_size, random_groups, threshold_linear_gains
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
    sampled : int64 the post neurons sampled for the in-sample curves.
    config : the analysis' parameters (``min_group``, ``min_spikes``, ``max_neurons``,
        ``folds``, ``alpha``, ``seed``, ``chunk``, ``n_blocks``).

    Returns
    -------
    ``in_sample`` as :func:`_curves` gives it (no random groups: the in-sample ``io`` has
    them); ``out_of_sample`` as :func:`fit_block` with ``n_candidates`` (neurons sampled on the
    selecting half, :func:`heldout_candidates`), ``n_small_group`` (their half-image group below
    ``min_group``: not fitted) and the numbers of images that selected and that fitted.
    """
    labels = np.asarray(rec.labels)
    select, fit = heldout_split(labels, config.seed)
    pre_packed = rec.packed(condition, pre)
    post_packed = rec.packed(condition, post)
    sampled = np.asarray(sampled, dtype=np.int64)
    in_sample = _curves(pre_packed, _post_rows(post_packed, sampled, rec.L),
                        [groups.members(j) for j in sampled],
                        image_bins(np.arange(rec.n_images), rec.T), labels, rec, config)
    order = rec.layer(post).order
    chosen = heldout_candidates(post_packed, select, rec.T, config, order)
    members: list[np.ndarray] = []
    if chosen.size:
        edges, _ = edges_on_images(rec, condition, pre, post, select, chosen)
        half = Groups(edges["pre_idx"].to_numpy(), edges["post_idx"].to_numpy(),
                      rec.layer(post).n_neurons)
        members = [half.members(j) for j in chosen]
    keep = [i for i, m in enumerate(members) if m.size >= config.min_group]
    candidates = np.flatnonzero(pre_packed.spike_counts() >= config.min_spikes)
    out = fit_block(pre_packed, _post_rows(post_packed, chosen[keep], rec.L),
                    [members[i] for i in keep], fit, labels, rec, config, candidates,
                    np.random.default_rng([config.seed, 23, order, 1]),
                    image_groups(labels, config.n_blocks, config.seed)[fit])
    out.update(n_candidates=int(chosen.size), n_small_group=int(chosen.size - len(keep)),
               n_select_images=int(select.size), n_fit_images=int(fit.size))
    return {"in_sample": in_sample, "out_of_sample": out}


def heldout_candidates(post_packed: Any, images: np.ndarray, T: int, config: AnalysisConfig,
                       layer_order: int) -> np.ndarray:
    """The post neurons whose out-of-sample curves are fitted, chosen on the selecting images
    only: those with at least ``min_spikes`` spikes in the bins of ``images``, a seeded sample of
    at most ``max_neurons`` of them (stream [seed, 31, layer_order]). int64, ascending."""
    n_post = post_packed.packed.shape[0]
    counts = np.zeros(n_post, dtype=np.int64)
    for start in range(0, n_post, config.chunk):
        rows = np.arange(start, min(start + config.chunk, n_post))
        counts[rows] = trains_on_images(post_packed, images, T, rows).sum(axis=1)
    eligible = np.flatnonzero(counts >= config.min_spikes)
    if config.max_neurons is not None and eligible.size > config.max_neurons:
        rng = np.random.default_rng([config.seed, 31, layer_order])
        eligible = np.sort(rng.choice(eligible, size=config.max_neurons, replace=False))
    return eligible.astype(np.int64)


def _post_rows(post_packed: Any, rows: np.ndarray, L: int) -> np.ndarray:
    """bool (len(rows), L): the post neurons ``rows``' spikes."""
    if rows.size == 0:
        return np.zeros((0, L), dtype=bool)
    return unpack(np.asarray(post_packed.packed[rows]), L)


def fit_block(pre_packed: Any, post_sp: np.ndarray, members: list[np.ndarray],
              images: np.ndarray, labels: np.ndarray, rec: Any, config: AnalysisConfig,
              candidates: np.ndarray, rng: np.random.Generator,
              groups: np.ndarray | None = None) -> dict[str, Any]:
    """The curves of the post rows ``post_sp`` (bool (n, L)) with the groups ``members`` on the
    bins of ``images`` only, and of same-size random groups (drawn from ``candidates`` with
    ``rng``) on the same bins: :func:`_curves` of each, the random ones under
    ``random_groups``; ``groups`` (int64 (len(images),), the images' jackknife groups) adds each
    one's ``replicates``."""
    bins = image_bins(images, rec.T)
    out = _curves(pre_packed, post_sp, members, bins, labels[images], rec, config, groups)
    if candidates.size and members:
        sizes = np.array([m.size for m in members])
        rand = [random_groups(sizes, candidates, rng) for _ in range(RANDOM_DRAWS)]
        out["random_groups"] = _curves(pre_packed, post_sp, rand[0], bins, labels[images], rec,
                                       config, groups)
        # the gain law of random groups over every draw (gains only: a closed-form fit each)
        k = aggregate_k(pre_packed.packed, rec.L, [m for r in rand for m in r],
                        config.chunk)[:, bins]
        rows = np.tile(np.arange(len(members)), RANDOM_DRAWS)
        keep = replicate_masks(images.size, groups)
        gains = np.array([_gains(image_cells(k[i], post_sp[j, bins], rec.T), keep)
                          for i, j in enumerate(rows)]).reshape(len(rows), keep.shape[0])
        laws = [gain_law(np.tile(sizes, RANDOM_DRAWS), gains[:, s]) for s in range(keep.shape[0])]
        # the random groups' mean gain (the fitted curves' of every draw): is there a gain at all
        mean_gain = [float(np.nanmean(g)) if np.isfinite(g).any() else None for g in gains.T]
        out["random_groups"]["mean_gain"] = mean_gain[0]
        out["random_groups"]["gain_law"] = laws[0]
        out["random_groups"]["draws"] = RANDOM_DRAWS
        if groups is not None:
            out["random_groups"]["replicates"]["beta"] = [law["beta"] for law in laws[1:]]
            out["random_groups"]["replicates"]["n_beta"] = [law["n"] for law in laws[1:]]
            out["random_groups"]["replicates"]["mean_gain"] = mean_gain[1:]
    else:
        out["random_groups"] = _curves(pre_packed, post_sp[:0], [], bins, labels[images], rec,
                                       config, groups)
    return out


def _gains(cells: tuple[np.ndarray, np.ndarray, np.ndarray], keep: np.ndarray) -> np.ndarray:
    """The threshold-linear gain (as :func:`~fcgraph.analysis.io_curve.fit_curve` fits it) of
    one curve on each image subset (rows of ``keep`` (S, M)) from its per-image cells
    (:func:`~fcgraph.analysis.curve_models.image_cells`): float (S,), NaN where the subset
    shows fewer than 3 k values (not fitted)."""
    ks, n_img, s_img = cells
    n_all, s_all = keep @ n_img, keep @ s_img
    p = np.divide(s_all, n_all, out=np.zeros_like(s_all), where=n_all > 0)
    return threshold_linear_gains(ks, p, n_all)


def _curves(pre_packed: Any, post_sp: np.ndarray, members: list[np.ndarray], bins: np.ndarray,
            labels: np.ndarray, rec: Any, config: AnalysisConfig,
            groups: np.ndarray | None = None) -> dict[str, Any]:
    """Fitted curves of groups ``members`` against post rows ``post_sp`` on ``bins``: counts
    (fitted: >= 3 k values; ReLU-like; best model), the median held-out gains over line and
    sigmoid (bits per image), the gain law and gain vs size of the threshold-linear gains.
    With ``groups`` (int64, the jackknife group of each image of ``bins``), ``replicates``:
    per replicate (all images but one group, every curve refitted on them) ``n_fitted``,
    ``n_relu_like`` and the gain law's ``beta`` and ``n_beta`` (lists of length G)."""
    k = aggregate_k(pre_packed.packed, rec.L, members, config.chunk)[:, bins] if members \
        else np.zeros((0, bins.size), dtype=np.int64)
    keep = replicate_masks(bins.size // rec.T, groups)
    sizes, gains, relu, over_line, over_sigmoid = [], [], [], [], []
    best = dict.fromkeys(MODELS, 0)
    for i, mem in enumerate(members):
        y = post_sp[i, bins]
        g = _gains(image_cells(k[i], y, rec.T), keep)
        if np.isnan(g[0]):
            continue
        cmp = compare_models(k[i], y, rec.T, labels, folds=config.folds, seed=config.seed,
                             alpha=config.alpha, groups=groups)
        sizes.append(mem.size)
        gains.append(g)
        relu.append([cmp["relu_like"], *cmp.get("replicates", [])])
        if cmp["best"] is not None:
            best[cmp["best"]] += 1
            over_line.append(cmp["over_line"])
            over_sigmoid.append(cmp["over_sigmoid"])
    gains_s = np.array(gains).reshape(len(gains), keep.shape[0])
    relu_s = np.array(relu, dtype=bool).reshape(len(relu), keep.shape[0])
    out = {"n_fitted": len(gains), "n_relu_like": int(relu_s[:, 0].sum()), "best_model": best,
           "median_over_line": float(np.median(over_line)) if over_line else None,
           "median_over_sigmoid": float(np.median(over_sigmoid)) if over_sigmoid else None,
           "gain_law": gain_law(sizes, gains_s[:, 0]),
           "gain_vs_size": gain_vs_size(sizes, gains_s[:, 0], seed=config.seed)}
    if groups is not None:
        fitted = ~np.isnan(gains_s[:, 1:])
        laws = [gain_law(sizes, gains_s[:, s]) for s in range(1, keep.shape[0])]
        out["replicates"] = {"n_fitted": fitted.sum(0).tolist(),
                             "n_relu_like": (relu_s[:, 1:] & fitted).sum(0).tolist(),
                             "beta": [law["beta"] for law in laws],
                             "n_beta": [law["n"] for law in laws]}
    return out
