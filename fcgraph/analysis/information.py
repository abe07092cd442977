"""Mutual information (bits) between a stimulus class and a discrete response, bias-corrected,
with a confidence interval over images.

The plug-in estimate (:func:`plugin_mi`: the MI of the empirical joint distribution) is biased
upwards: with N images it exceeds the true MI by about ``[sum_s (R_s - 1) - (R - 1)] / (2 N
ln 2)`` bits, where R_s is the number of response values that stimulus s produces with nonzero
probability and R that of all stimuli together (Panzeri & Treves 1996, *Network* 7:87-107;
Miller 1955). At 240 images, 10 classes and a handful of spike counts this bias is a few
hundredths of a bit, as large as the class information of a typical neuron. Two corrections:

- ``"quadratic"`` (the default, :func:`quadratic_extrapolation`): the plug-in estimate on
  class-stratified subsets of N, N/2 and N/4 images (``n_splits`` random splits into halves and
  into quarters, averaged) fitted by I(n) = I_inf + a / n + b / n^2; the estimate is I_inf
  (Strong et al. 1998, *Phys Rev Lett* 80:197; Treves & Panzeri 1995, *Neural Comput* 7:399);
- ``"panzeri-treves"`` (:func:`panzeri_treves_bias`): the plug-in estimate minus that
  first-order bias, R_s and R counted as the occupied response values (naive counting). It
  misses values too rare to be seen, so it corrects too little when a class has fewer images
  than response values: with 24 images per class and Poisson(2) counts independent of the
  class it leaves 0.06 of the plug-in's 0.19 bits, where the quadratic extrapolation leaves
  0.01 (``tests/analysis/test_analysis_information.py``).

The CI (:func:`mutual_information`) resamples whole images, within each class (a stratified
bootstrap: every resample has the same number of images per class), and recomputes the
corrected estimate. A resample repeats images, so its plug-in estimate carries the bias once
more and the corrected estimates of the resamples centre on the *plug-in* value; the interval is
therefore the bootstrap distribution's quantiles taken around its own mean and placed around the
point estimate (a recentred percentile interval). Images are the units, never neurons or pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: the bias-corrected estimators (:func:`mutual_information`'s ``estimator``)
ESTIMATORS = ("panzeri-treves", "quadratic")
#: the estimator the analysis reports (``mi_*`` keys; the plug-in value is ``*_plugin``)
DEFAULT_ESTIMATOR = "quadratic"
#: image-bootstrap resamples of each MI's CI (the analysis uses at most this many)
MI_BOOT = 200
_LN2 = np.log(2.0)
_CHUNK = 64


def _codes(s: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Compact codes s_index * n_r + r_index (int64 (n,)) and the numbers of distinct s and r."""
    s_u, s_i = np.unique(np.asarray(s), return_inverse=True)
    r_u, r_i = np.unique(np.asarray(r), return_inverse=True)
    return s_i.ravel() * r_u.size + r_i.ravel(), s_u.size, r_u.size


def _tables(codes: np.ndarray, n_s: int, n_r: int) -> np.ndarray:
    """Joint count tables of each row of ``codes`` (int (..., n)): int64 (..., n_s, n_r)."""
    lead = codes.shape[:-1]
    flat = codes.reshape(-1, codes.shape[-1])
    k = n_s * n_r
    off = flat + (np.arange(flat.shape[0]) * k)[:, None]
    counts = np.bincount(off.ravel(), minlength=flat.shape[0] * k)
    return counts.reshape(*lead, n_s, n_r)


def _xlogx(counts: np.ndarray) -> np.ndarray:
    """c log2 c of non-negative counts (0 for 0), elementwise."""
    c = np.asarray(counts, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c > 0, c * np.log2(np.where(c > 0, c, 1.0)), 0.0)


def table_plugin_mi(counts: np.ndarray) -> np.ndarray:
    """Plug-in MI (bits) of joint count tables.

    Parameters
    ----------
    counts : array (..., n_s, n_r)
        Joint counts (stimulus x response), e.g. a confusion matrix.

    Returns
    -------
    array (...)
        H(S) + H(R) - H(S, R) of the empirical distribution, in bits (>= 0; 0 for an empty
        table).
    """
    counts = np.asarray(counts)
    n = np.asarray(counts.sum(axis=(-2, -1)))
    if np.issubdtype(counts.dtype, np.integer) and counts.size and n.max() < 1 << 22:
        table = _xlogx(np.arange(int(n.max()) + 1))  # c log2 c by lookup: integer counts
        xlx = table[counts]
        joint = xlx.sum(axis=(-2, -1))
        rows = table[counts.sum(-1)].sum(-1)
        cols = table[counts.sum(-2)].sum(-1)
    else:
        joint = _xlogx(counts).sum(axis=(-2, -1))
        rows = _xlogx(counts.sum(-1)).sum(-1)
        cols = _xlogx(counts.sum(-2)).sum(-1)
    n = n.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = np.where(n > 0, (joint - rows - cols) / np.maximum(n, 1) + np.log2(np.maximum(n, 1)),
                      0.0)
    return np.maximum(mi, 0.0)


def panzeri_treves_bias(counts: np.ndarray) -> np.ndarray:
    """First-order bias (bits) of the plug-in MI of joint count tables (Panzeri & Treves 1996).

    Parameters
    ----------
    counts : array (..., n_s, n_r)
        Joint counts (stimulus x response).

    Returns
    -------
    array (...)
        ``[sum_s (R_s - 1) - (R - 1)] / (2 N ln 2)`` bits: N the table's total, R_s the response
        values occupied under stimulus s (stimuli with no trials left out), R those occupied
        overall. Zero for an empty table.
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(axis=(-2, -1))
    present = counts.sum(-1) > 0
    r_s = np.where(present, (counts > 0).sum(-1) - 1, 0).sum(-1)
    r = (counts.sum(-2) > 0).sum(-1) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, (r_s - np.maximum(r, 0)) / (2 * np.maximum(n, 1) * _LN2), 0.0)


def plugin_mi(s: np.ndarray, r: np.ndarray) -> float:
    """Plug-in MI (bits) of two equal-length label arrays ``s`` and ``r`` (n,) (any values; the
    same number as ``sklearn.metrics.mutual_info_score(s, r) / ln 2``)."""
    if np.asarray(s).size == 0:
        return 0.0
    codes, n_s, n_r = _codes(s, r)
    return float(table_plugin_mi(_tables(codes, n_s, n_r)))


def _strata(s_index: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(s_index == c) for c in np.unique(s_index)]


def _split_codes(codes: np.ndarray, strata: list[np.ndarray], parts: int, n_splits: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Codes of ``n_splits`` random class-stratified splits of the images (the last axis of
    ``codes`` (..., n)) into ``parts`` equal parts: (..., n_splits, parts, m), m = images per
    part (each class dealt round-robin; the remainder of each class left out)."""
    per_class = [idx.size // parts for idx in strata]
    cols = []
    for _ in range(n_splits):
        split = []
        for idx, m in zip(strata, per_class, strict=True):
            if m == 0:
                continue
            perm = rng.permutation(idx)[: m * parts]
            split.append(perm.reshape(m, parts).T)
        cols.append(np.concatenate(split, axis=1))
    sel = np.stack(cols)  # (n_splits, parts, m)
    return codes[..., sel]


def _quadratic(codes: np.ndarray, n_s: int, n_r: int, strata: list[np.ndarray],
               n_splits: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(I_inf, plug-in) of each row of ``codes`` (..., n): quadratic extrapolation from N, N/2
    and N/4 images."""
    full = table_plugin_mi(_tables(codes, n_s, n_r))
    sizes, values = [float(codes.shape[-1])], [full]
    for parts in (2, 4):
        sub = _split_codes(codes, strata, parts, n_splits, rng)
        values.append(table_plugin_mi(_tables(sub, n_s, n_r)).mean(axis=(-2, -1)))
        sizes.append(float(sub.shape[-1]))
    inv = 1.0 / np.array(sizes)
    design = np.stack([np.ones(3), inv, inv ** 2], axis=1)  # I = I_inf + a/n + b/n^2
    coef = np.linalg.solve(design, np.stack(values, axis=-1)[..., None])[..., 0]
    return coef[..., 0], full


def quadratic_extrapolation(s: np.ndarray, r: np.ndarray, *, n_splits: int = 4,
                            rng: np.random.Generator | None = None) -> float:
    """MI (bits) of ``s`` and ``r`` (n,) by quadratic extrapolation to infinitely many images.

    Parameters
    ----------
    s, r : array (n,)
        Stimulus class and response of each image (any values).
    n_splits : int
        Random class-stratified splits into halves and into quarters averaged.
    rng : numpy.random.Generator, optional
        Draws the splits (default: seed 0).

    Returns
    -------
    float
        I_inf of the fit I(n) = I_inf + a / n + b / n^2 through the mean plug-in MI at n = N,
        N/2 and N/4 images, in bits (can be slightly negative when there is no information).

    Raises
    ------
    ValueError
        When a class has fewer than 4 images (no quarter would hold it).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    codes, n_s, n_r = _codes(s, r)
    strata = _strata(codes // n_r)
    if min(idx.size for idx in strata) < 4:
        raise ValueError("quadratic extrapolation needs at least 4 images of every class")
    return float(_quadratic(codes, n_s, n_r, strata, n_splits, rng)[0])


def _corrected(codes: np.ndarray, n_s: int, n_r: int, strata: list[np.ndarray], estimator: str,
               n_splits: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(corrected, plug-in) of each row of ``codes`` (..., n)."""
    if estimator == "quadratic":
        return _quadratic(codes, n_s, n_r, strata, n_splits, rng)
    tables = _tables(codes, n_s, n_r)
    plug = table_plugin_mi(tables)
    return plug - panzeri_treves_bias(tables), plug


def mutual_information(s: np.ndarray, r: np.ndarray, *, estimator: str = DEFAULT_ESTIMATOR,
                       n_boot: int = MI_BOOT, ci: float = 0.95, n_splits: int = 4,
                       rng: np.random.Generator | None = None) -> dict[str, Any]:
    """Bias-corrected MI (bits) between the class ``s`` and a discrete response ``r``, with a
    CI from a class-stratified bootstrap over images.

    Parameters
    ----------
    s : array (n,)
        Stimulus class of each image (the bootstrap strata).
    r : array (n,)
        Discrete response of each image (spike count, predicted class, ...).
    estimator : {"quadratic", "panzeri-treves"}
        The bias correction (module docstring); ``"quadratic"`` falls back to
        ``"panzeri-treves"`` when a class has fewer than 4 images (``estimator`` says which).
    n_boot : int
        Bootstrap resamples of the images (0: no CI).
    ci : float
        Confidence level of the interval.
    n_splits : int
        Splits averaged per subsample size by ``"quadratic"``.
    rng : numpy.random.Generator, optional
        Draws resamples and splits (default: seed 0).

    Returns
    -------
    dict
        ``mi`` (corrected, bits), ``mi_lo`` / ``mi_hi`` (its CI; None without resamples),
        ``mi_plugin`` (plug-in, bits), ``bias`` (mi_plugin - mi, bits), ``estimator``,
        ``n`` (images).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown MI estimator {estimator!r} (one of {', '.join(ESTIMATORS)})")
    rng = rng if rng is not None else np.random.default_rng(0)
    s, r = np.asarray(s), np.asarray(r)
    out: dict[str, Any] = {"estimator": estimator, "n": int(s.size)}
    if s.size == 0:
        return {**out, "mi": 0.0, "mi_lo": None, "mi_hi": None, "mi_plugin": 0.0, "bias": 0.0}
    codes, n_s, n_r = _codes(s, r)
    strata = _strata(codes // n_r)
    if estimator == "quadratic" and min(idx.size for idx in strata) < 4:
        estimator = out["estimator"] = "panzeri-treves"  # a class too small to split in 4
    mi, plug = (float(v) for v in _corrected(codes, n_s, n_r, strata, estimator, n_splits, rng))
    out.update(mi=mi, mi_plugin=plug, bias=plug - mi, mi_lo=None, mi_hi=None)
    if n_boot > 0:
        idx = np.concatenate([idx[rng.integers(0, idx.size, size=(n_boot, idx.size))]
                              for idx in strata], axis=1)
        boot_strata = _boot_strata(strata)
        boot = np.concatenate([  # in chunks of resamples: the tables stay in cache
            _corrected(codes[idx[i:i + _CHUNK]], n_s, n_r, boot_strata, estimator, n_splits,
                       rng)[0] for i in range(0, n_boot, _CHUNK)])
        lo, hi = np.quantile(boot - boot.mean(), [(1 - ci) / 2, (1 + ci) / 2])
        out["mi_lo"], out["mi_hi"] = mi + float(lo), mi + float(hi)
    return out


def _boot_strata(strata: list[np.ndarray]) -> list[np.ndarray]:
    """The class strata of a stratified resample: its columns are the classes' in order."""
    ends = np.cumsum([idx.size for idx in strata])
    return [np.arange(e - idx.size, e) for idx, e in zip(strata, ends, strict=True)]
