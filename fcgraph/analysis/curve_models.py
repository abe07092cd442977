"""Which shape an input-output curve has, by the likelihood of held-out images.

A post neuron's bins are binary (it spikes or not) and its curve is a model of P(spike | k), so
the binned curve (per image: n bins and s spikes at each k) is sufficient for any model in k.
Four models are fitted by maximum Bernoulli likelihood, each of the form
p(k) = clip(b + g * h(k), EPS, 1 - EPS) with a basis h from a grid of its shape parameters:

- ``threshold_linear``: h = max(0, k - theta), theta on the observed k and their midpoints
  (at most :data:`MAX_KNOTS` of them, evenly spaced in rank);
- ``softplus`` (a smooth ReLU): h = w * log(1 + exp((k - theta) / w)), the same thetas, widths
  w in :data:`WIDTHS` (fractions of the observed k range);
- ``line``: h = k;
- ``sigmoid`` (saturating): h = 1 / (1 + exp(-(k - c) / w)), with c on the same grid and the
  same widths, and c + 2 w <= k_min + :data:`SATURATES_BY` (k_max - k_min): the curve reaches
  88 % of its span inside the observed range and is flat above (a sigmoid allowed to rise at the
  very top, where few bins are, is not told apart from a threshold there).

For each grid point (b, g) is the maximum-likelihood solution (Fisher scoring, which for this
identity link is weighted least squares with weights n / (p (1 - p)), :data:`SCORING_STEPS`
steps from the least-squares start); the grid point of highest training likelihood is kept.

The models are compared by K-fold cross-validation over images (class-stratified folds; all T
bins of an image in one fold): each image's held-out log-likelihood (bits) under each model fitted
on the other folds. A curve is **ReLU-like** (:func:`relu_like`) when

- the best held-out model is threshold-linear or softplus (so it beats the saturating sigmoid:
  two shapes that are not nested are told apart by which predicts held-out images better);
- it beats the line, which it contains (a threshold below every k is the line), by a per-image
  log-likelihood gain whose one-sided (1 - alpha) lower bound over images is above 0 and whose
  mean is at least :data:`MARGIN_BITS` bits per image: the threshold must earn its parameter;
- and its gain g (fitted on all images) is above 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from fcgraph.analysis.image_subsets import stratified_groups

#: the models compared, and those that count as ReLU-like
MODELS = ("threshold_linear", "softplus", "line", "sigmoid")
RELU_LIKE = ("threshold_linear", "softplus")
#: the fitted probabilities are clipped to (EPS, 1 - EPS)
EPS = 1e-3
#: softplus and sigmoid widths, as fractions of the observed k range
WIDTHS = (0.05, 0.15, 0.4)
#: at most this many thresholds / centres per model (the cost of a fit is linear in it)
MAX_KNOTS = 24
#: the sigmoid reaches 88 % of its span (c + 2 w) by this fraction of the observed k range
SATURATES_BY = 0.75
#: Fisher scoring steps from the least-squares start
SCORING_STEPS = 3
#: held-out log-likelihood gain (bits per image) a ReLU-like curve needs over line and sigmoid
MARGIN_BITS = 0.01


def image_cells(k: np.ndarray, y: np.ndarray, T: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ks, n, s): the k values that occur (int64 (K,), ascending) and, per image and k, the
    bins ``n`` and the spikes ``s`` (float64 (M, K), M = len(k) // T images of T bins).

    ``k``: int (L,) aggregate cofiring; ``y``: bool (L,) the post neuron's spikes.
    """
    k, y = np.asarray(k, dtype=np.int64), np.asarray(y, dtype=np.float64)
    M = k.size // T
    ks = np.unique(k[: M * T])
    col = np.searchsorted(ks, k[: M * T])
    cell = np.repeat(np.arange(M), T) * ks.size + col
    n = np.bincount(cell, minlength=M * ks.size).reshape(M, ks.size).astype(np.float64)
    s = np.bincount(cell, weights=y[: M * T], minlength=M * ks.size).reshape(M, ks.size)
    return ks, n, s


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold of each image (int64 (M,)): each class's images in a seeded random order dealt
    round-robin to ``folds`` folds, so every fold holds every class about equally."""
    return stratified_groups(labels, folds, [seed, 29])


def _bases(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every model's basis functions on ``x`` (K,): H (G, K) and the model index (G,) of each
    row (into :data:`MODELS`)."""
    span = float(x[-1] - x[0])
    thetas = np.unique(np.concatenate([x[:-1], (x[:-1] + x[1:]) / 2]))
    if thetas.size > MAX_KNOTS:  # bounded cost: evenly spaced (in rank) knots
        thetas = thetas[np.unique(np.linspace(0, thetas.size - 1, MAX_KNOTS).round().astype(int))]
    widths = span * np.asarray(WIDTHS)
    rows = [np.maximum(0.0, x[None] - thetas[:, None])]
    th, w = np.repeat(thetas, widths.size), np.tile(widths, thetas.size)
    rows.append(w[:, None] * np.logaddexp(0.0, (x[None] - th[:, None]) / w[:, None]))
    rows.append(x[None].astype(np.float64))
    sat = th + 2 * w <= x[0] + SATURATES_BY * span
    rows.append(1.0 / (1.0 + np.exp(-(x[None] - th[sat, None]) / w[sat, None])))
    model = np.concatenate([np.full(r.shape[0], i) for i, r in enumerate(rows)])
    return np.concatenate(rows), model


def _loglik(mu: np.ndarray, n: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Bernoulli log-likelihood (bits) of the curves ``mu`` (F, G, K) on the counts ``n``, ``s``
    (F, K), summed over k: (F, G)."""
    return (np.einsum("fgk,fk->fg", np.log2(mu), s)
            + np.einsum("fgk,fk->fg", np.log2(1.0 - mu), n - s))


def _fit(H: np.ndarray, n: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood (b, g) of p = clip(b + g h, EPS, 1 - EPS) for each basis row of ``H``
    (G, K) and each training set (``n``, ``s``: (F, K)): b, g and the training log-likelihood
    (bits), each (F, G)."""
    p = np.divide(s, n, out=np.zeros_like(s), where=n > 0)
    shape = (n.shape[0], H.shape[0])
    best_ll = np.full(shape, -np.inf)
    best_b, best_g = np.zeros(shape), np.zeros(shape)
    HH = H * H
    # the first step's weights are n, the same for every basis row
    sw, sh, shh = np.broadcast_to(n.sum(-1)[:, None], shape), n @ H.T, n @ HH.T
    sp, shp = np.broadcast_to((n * p).sum(-1)[:, None], shape), (n * p) @ H.T
    for step in range(SCORING_STEPS + 1):
        det = sw * shh - sh * sh
        ok = det > 1e-12 * np.maximum(sw * shh, 1e-300)
        g = np.where(ok, (sw * shp - sh * sp) / np.where(ok, det, 1.0), 0.0)
        b = (sp - g * sh) / np.maximum(sw, 1e-300)
        mu = np.clip(b[..., None] + g[..., None] * H, EPS, 1 - EPS)
        ll = _loglik(mu, n, s)
        better = ll > best_ll
        best_ll, best_b, best_g = (np.where(better, a, c) for a, c in
                                   ((ll, best_ll), (b, best_b), (g, best_g)))
        if step == SCORING_STEPS:
            break
        w = n[:, None, :] / (mu * (1 - mu))
        wp = w * p[:, None, :]
        sw, sh, shh = w.sum(-1), np.einsum("fgk,gk->fg", w, H), np.einsum("fgk,gk->fg", w, HH)
        sp, shp = wp.sum(-1), np.einsum("fgk,gk->fg", wp, H)
    return best_b, best_g, best_ll


def replicate_masks(n_images: int, groups: np.ndarray | None) -> np.ndarray:
    """bool (S, n_images): all the images, then (with ``groups``, int (n_images,) jackknife
    groups 0 .. G - 1) each delete-a-group replicate's (all images but group g), S = G + 1."""
    keep = np.ones((1, n_images), dtype=bool)
    if groups is None or len(groups) == 0:
        return keep
    groups = np.asarray(groups, dtype=np.int64)
    return np.vstack([keep, groups[None] != np.arange(int(groups.max()) + 1)[:, None]])


def compare_models(k: np.ndarray, y: np.ndarray, T: int, labels: np.ndarray, *, folds: int = 5,
                   seed: int = 0, alpha: float = 0.01,
                   groups: np.ndarray | None = None) -> dict[str, Any]:
    """The four models of one curve compared by cross-validated held-out likelihood.

    Parameters
    ----------
    k : int (L,) aggregate cofiring of the group, L = M x T bins of M images (image-major).
    y : bool (L,) the post neuron's spikes in the same bins.
    T : bins per image.
    labels : int (M,) the images' classes (the folds are stratified by them).
    folds, seed : K of the K-fold split over images, and its seed.
    alpha : one-sided level of the lower bounds (:func:`relu_like`).
    groups : int (M,) optional jackknife group (0 .. G - 1) of each image: the comparison is then
        also made on every replicate (all images but one group), each refitted on its own
        images with the same folds (:mod:`fcgraph.analysis.blocks`).

    Returns
    -------
    dict: ``bits_per_image`` {model: mean held-out log-likelihood per image, bits}, ``best``
    (the model with the highest), ``relu_model`` (the better of threshold-linear and softplus),
    ``gain`` (its g on all images, spikes per bin per unit of h), ``over_line`` /
    ``over_sigmoid`` (mean per-image gain of ``relu_model``, bits) with ``*_lo`` (one-sided
    lower bound), ``n_images``, ``folds`` and ``relu_like``. ``best`` is None and ``relu_like``
    False when the curve has fewer than 3 k values or too few images for two folds. With
    ``groups``, ``replicates``: the ``relu_like`` of each replicate (bool, length G).
    """
    ks, n_img, s_img = image_cells(k, y, T)
    labels = np.asarray(labels)[: n_img.shape[0]]
    M = n_img.shape[0]
    folds = int(min(folds, np.bincount(np.unique(labels, return_inverse=True)[1]).min()))
    keep = replicate_masks(M, None if groups is None else np.asarray(groups)[:M])
    out: dict[str, Any] = {"n_images": M, "folds": folds, "best": None, "relu_model": None,
                           "relu_like": False}
    results = [dict(out) for _ in keep]
    if ks.size >= 3 and folds >= 2:
        results = _compare_subsets(ks, n_img, s_img, stratified_folds(labels, folds, seed), keep,
                                   alpha)
        out = {**out, **results[0]}
    if groups is not None:
        out["replicates"] = [bool(r["relu_like"]) for r in results[1:]]
    return out


def _compare_subsets(ks: np.ndarray, n_img: np.ndarray, s_img: np.ndarray, fold: np.ndarray,
                     keep: np.ndarray, alpha: float) -> list[dict[str, Any]]:
    """:func:`compare_models`' comparison on each image subset (rows of bool ``keep`` (S, M)),
    every subset's folds fitted in one call: its result (without ``n_images`` / ``folds``) per
    subset; a subset whose images show fewer than 3 k values is not compared."""
    folds, S, K = int(fold.max()) + 1, keep.shape[0], ks.size
    onehot = np.eye(folds)[fold].T  # (F, M)
    w = keep.astype(np.float64)
    n_tot, s_tot = w @ n_img, w @ s_img  # (S, K)
    n_fold = np.einsum("fm,sm,mk->sfk", onehot, w, n_img)
    s_fold = np.einsum("fm,sm,mk->sfk", onehot, w, s_img)
    # each subset's folds' training sets, then all its images: (S * (F + 1), K)
    n_train = np.concatenate([n_tot[:, None] - n_fold, n_tot[:, None]], axis=1).reshape(-1, K)
    s_train = np.concatenate([s_tot[:, None] - s_fold, s_tot[:, None]], axis=1).reshape(-1, K)
    H, model = _bases(ks.astype(np.float64))
    b, g, ll = (a.reshape(S, folds + 1, -1) for a in _fit(H, n_train, s_train))
    z = float(stats.norm.ppf(1 - alpha))
    f_idx = np.arange(folds + 1)
    results = []
    for i in range(S):
        if np.count_nonzero(n_tot[i]) < 3:
            results.append({"best": None, "relu_model": None, "relu_like": False})
            continue
        mu = np.empty((folds + 1, len(MODELS), K))  # each set's fitted curve of each model
        gains = np.empty(len(MODELS))
        for m in range(len(MODELS)):
            rows = np.flatnonzero(model == m)
            pick = rows[np.argmax(ll[i][:, rows], axis=1)]  # (F + 1,) best grid point of a set
            mu[:, m] = np.clip(b[i, f_idx, pick, None] + g[i, f_idx, pick, None] * H[pick],
                               EPS, 1 - EPS)
            gains[m] = g[i, folds, pick[folds]]
        images = np.flatnonzero(keep[i])
        heldout = np.empty((images.size, len(MODELS)))  # each image's log-lik under its fold's fits
        for f in range(folds):
            rows = fold[images] == f
            at = images[rows]
            heldout[rows] = s_img[at] @ np.log2(mu[f]).T \
                + (n_img[at] - s_img[at]) @ np.log2(1 - mu[f]).T
        bits = heldout.mean(0)
        relu = int(np.argmax(bits[: len(RELU_LIKE)]))
        out: dict[str, Any] = {"bits_per_image": dict(zip(MODELS, bits.tolist(), strict=True)),
                               "best": MODELS[int(np.argmax(bits))], "relu_model": MODELS[relu],
                               "gain": float(gains[relu])}
        for other in ("line", "sigmoid"):
            d = heldout[:, relu] - heldout[:, MODELS.index(other)]
            mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))
            out[f"over_{other}"], out[f"over_{other}_lo"] = mean, mean - z * se
        out["relu_like"] = relu_like(out)
        results.append(out)
    return results


def relu_like(result: dict[str, Any]) -> bool:
    """The criterion (see the module docstring) on a :func:`compare_models` result: the best
    held-out model is threshold-linear or softplus, it beats the line with a lower bound > 0
    and a mean >= :data:`MARGIN_BITS` bits per image, and its gain is > 0."""
    if result.get("best") not in RELU_LIKE or not result.get("gain", 0) > 0:
        return False
    return result["over_line_lo"] > 0 and result["over_line"] >= MARGIN_BITS
