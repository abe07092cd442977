"""Aggregate cofiring k(t), the response curve and its threshold-linear (ReLU-like) fit.

For a post neuron with 1FC group G (pre neurons), k(t) = number of members of G spiking in bin t
(t = image * T + step, L bins). The response curve is r(k) = P(post spikes in t | k(t) = k),
estimated from the n_k bins with k(t) = k. Two models are fitted to it by weighted least squares
(weights n_k, which is least squares over the L binary bins, since the within-k scatter is a
constant):

- threshold-linear: r(k) = b + g * max(0, k - theta), theta restricted to [k_min, k_max];
- linear: r(k) = a + c * k.

The threshold-linear fit is exact: for theta at each observed k and, inside each interval between
consecutive observed k, at the intersection of the lower constant and the upper regression line,
the least-squares problem is linear and solved in closed form from cumulative sums (O(n_k)),
and the best of these candidates is the global least-squares optimum. Confidence intervals come
from an image-block bootstrap: whole images (T bins each) are resampled with replacement, which
respects the dependence between the T steps of an image.

Units: k in group members (or, with ``normalize``, as a fraction of the group: the same fit with
gain * size and theta / size); r, b in spikes per bin; g in spikes per bin per member.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class CurveFit:
    """A threshold-linear fit of one response curve, with its linear competitor.

    ``r2`` / ``r2_linear``: weighted R^2 of the curve (weights n_k); ``f_p``: p-value of the
    F test (1 and N - 3 degrees of freedom over the N bins) that the threshold adds to the line;
    ``*_lo`` / ``*_hi``: bootstrap percentile interval (NaN without bootstrap).
    """

    b: float
    gain: float
    theta: float
    r2: float
    linear_intercept: float
    linear_slope: float
    r2_linear: float
    f_p: float
    n_bins: int
    k_max: int
    gain_lo: float = float("nan")
    gain_hi: float = float("nan")
    theta_lo: float = float("nan")
    theta_hi: float = float("nan")
    n_boot: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def aggregate_cofiring(pre: np.ndarray, members: np.ndarray) -> np.ndarray:
    """k(t): int64 (L,), how many of the pre neurons ``members`` spike in each bin.

    ``pre``: bool (n_pre, L); ``members``: int indices into its rows.
    """
    members = np.asarray(members, dtype=np.int64)
    if members.size == 0:
        return np.zeros(pre.shape[1], dtype=np.int64)
    return pre[members].sum(axis=0, dtype=np.int64)


def response_curve(k: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k values, n_k bins, P(spike | k)) over the k values that occur, ascending.

    ``k``: int (L,) aggregate cofiring; ``y``: bool (L,) the post neuron's spikes.
    """
    k = np.asarray(k, dtype=np.int64)
    n = np.bincount(k)
    s = np.bincount(k, weights=np.asarray(y, dtype=np.float64), minlength=n.size)
    ks = np.flatnonzero(n)
    return ks, n[ks], s[ks] / n[ks]


def _wls_line(w: np.ndarray, x: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    """(intercept, slope, SSE) of a weighted least-squares line."""
    sw, sx, sxx = w.sum(), (w * x).sum(), (w * x * x).sum()
    sp, sxp, spp = (w * p).sum(), (w * x * p).sum(), (w * p * p).sum()
    det = sw * sxx - sx * sx
    slope = (sw * sxp - sx * sp) / det if det > 1e-12 * max(sw * sxx, 1e-300) else 0.0
    intercept = (sp - slope * sx) / sw
    return float(intercept), float(slope), float(max(spp - intercept * sp - slope * sxp, 0.0))


def _relu_profile_batch(x: np.ndarray, p: np.ndarray,
                        w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact weighted least squares of p = b + g max(0, x - theta) for a batch of curves.

    ``x``: (K,) ascending distinct values; ``p``, ``w``: (B, K) values and weights (w >= 0; a
    zero weight leaves that point out). Returns (b, g, theta, SSE), each (B,).
    """
    p = np.where(w > 0, p, 0.0)
    wx, wxx, wp, wxp, wpp = w * x, w * x * x, w * p, w * x * p, w * p * p

    def upper(a: np.ndarray) -> np.ndarray:  # sums over i > j
        c = np.cumsum(a[:, ::-1], axis=1)[:, ::-1]
        return np.concatenate([c[:, 1:], np.zeros((a.shape[0], 1))], axis=1)

    Uw, Ux, Uxx, Up, Uxp, Upp = (upper(a) for a in (w, wx, wxx, wp, wxp, wpp))
    Lw, Lp, Lpp = np.cumsum(w, 1), np.cumsum(wp, 1), np.cumsum(wpp, 1)
    tw, tp, tpp = Lw[:, -1:], Lp[:, -1:], Lpp[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        # (A) theta = x_j: regressor u_i = max(0, x_i - x_j)
        Su = Ux - x * Uw
        Suu = Uxx - 2 * x * Ux + x * x * Uw
        Sup = Uxp - x * Up
        det = tw * Suu - Su * Su
        g_a = np.where(det > 1e-12 * np.maximum(tw * Suu, 1e-300), (tw * Sup - Su * tp) / det, 0.0)
        b_a = (tp - g_a * Su) / tw
        sse_a = tpp - b_a * tp - g_a * Sup
        # (B) theta inside (x_j, x_j+1): lower constant, upper free line meeting it at theta
        b_b = Lp / Lw
        sse_low = Lpp - Lp * Lp / Lw
        det_u = Uw * Uxx - Ux * Ux
        g_b = (Uw * Uxp - Ux * Up) / det_u
        a_b = (Up - g_b * Ux) / Uw
        sse_up = Upp - a_b * Up - g_b * Uxp
        theta_b = (b_b - a_b) / g_b
        sse_b = sse_low + sse_up
    nxt = np.concatenate([x[1:], [np.inf]])
    ok_b = (det_u > 1e-12 * np.maximum(Uw * Uxx, 1e-300)) & np.isfinite(theta_b) \
        & (theta_b > x) & (theta_b < nxt) & (Lw > 0) & np.isfinite(sse_b)
    sse_b = np.where(ok_b, sse_b, np.inf)
    sse_a = np.where(np.isfinite(sse_a), sse_a, np.inf)
    rows = np.arange(p.shape[0])
    ja, jb = np.argmin(sse_a, 1), np.argmin(sse_b, 1)
    use_b = sse_b[rows, jb] < sse_a[rows, ja]
    b = np.where(use_b, b_b[rows, jb], b_a[rows, ja])
    g = np.where(use_b, g_b[rows, jb], g_a[rows, ja])
    theta = np.where(use_b, theta_b[rows, jb], x[ja])
    sse = np.maximum(np.where(use_b, sse_b[rows, jb], sse_a[rows, ja]), 0.0)
    return b, g, theta, sse


def threshold_linear_gains(x: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The gain g of the exact weighted least-squares fit p = b + g max(0, x - theta) of a batch
    of curves on the same k values (as :func:`fit_curve` fits one).

    Parameters
    ----------
    x : float (K,) ascending distinct k values.
    p, w : float (B, K) P(spike | k) and the bins behind it (weight 0: that k is left out).

    Returns
    -------
    float (B,) the gains (spikes per bin per member); NaN for a curve with fewer than 3 k values
    of positive weight (not fitted).
    """
    _, g, _, _ = _relu_profile_batch(np.asarray(x, dtype=np.float64),
                                     np.asarray(p, dtype=np.float64),
                                     np.asarray(w, dtype=np.float64))
    return np.where((np.asarray(w) > 0).sum(axis=1) >= 3, g, np.nan)


def _relu_profile(x: np.ndarray, p: np.ndarray, w: np.ndarray) -> tuple[float, float, float, float]:
    """Exact weighted least squares of p = b + g max(0, x - theta): (b, g, theta, SSE).

    ``x`` ascending distinct values, ``w`` > 0 their weights, ``p`` the values to fit.
    """
    if x.size == 1:
        return float(p[0]), 0.0, float(x[0]), 0.0
    b, g, theta, sse = _relu_profile_batch(np.asarray(x, float), np.asarray(p, float)[None],
                                           np.asarray(w, float)[None])
    return float(b[0]), float(g[0]), float(theta[0]), float(sse[0])


def _r2(sse: float, w: np.ndarray, p: np.ndarray) -> float:
    mean = float((w * p).sum() / w.sum())
    sst = float((w * (p - mean) ** 2).sum())
    return 1.0 - sse / sst if sst > 0 else float("nan")


def fit_curve(ks: np.ndarray, n: np.ndarray, p: np.ndarray) -> CurveFit:
    """Fit threshold-linear and linear models to a response curve (see the module docstring).

    ``ks``: ascending k values (members); ``n``: bins per k; ``p``: P(spike | k).
    """
    x, w, p = (np.asarray(a, dtype=np.float64) for a in (ks, n, p))
    b, g, theta, sse = _relu_profile(x, p, w)
    a, c, sse_lin = _wls_line(w, x, p)
    N = int(w.sum())
    within = float((w * p * (1 - p)).sum())  # the scatter of the binary bins about their k mean
    f = ((sse_lin - sse) / max(within + sse, 1e-300)) * (N - 3) if N > 3 else float("nan")
    f_p = float(stats.f.sf(f, 1, N - 3)) if N > 3 and np.isfinite(f) else float("nan")
    return CurveFit(b=b, gain=g, theta=theta, r2=_r2(sse, w, p), linear_intercept=a,
                    linear_slope=c, r2_linear=_r2(sse_lin, w, p), f_p=f_p, n_bins=N,
                    k_max=int(x.max()))


def fit_io(k: np.ndarray, y: np.ndarray, T: int, *, n_boot: int = 200,
           rng: np.random.Generator | None = None, ci: float = 0.95) -> tuple[CurveFit, dict[str, Any]]:
    """Response curve of ``y`` (bool (L,)) against ``k`` (int (L,)), its fits and bootstrap CIs.

    The bootstrap resamples whole images (L / T of them) ``n_boot`` times. Returns the fit and
    the curve as lists (``k``, ``n``, ``p``) for figures.
    """
    ks, n, p = response_curve(k, y)
    fit = fit_curve(ks, n, p)
    curve = {"k": ks.tolist(), "n": n.tolist(), "p": p.tolist()}
    if n_boot <= 0 or ks.size < 3:
        return fit, curve
    rng = rng if rng is not None else np.random.default_rng(0)
    M = k.size // T
    col = np.searchsorted(ks, k[: M * T])
    img = np.repeat(np.arange(M), T)
    K = ks.size
    cells_n = np.bincount(img * K + col, minlength=M * K).reshape(M, K).astype(np.float32)
    cells_s = np.bincount(img * K + col, weights=y[: M * T].astype(np.float64),
                          minlength=M * K).reshape(M, K).astype(np.float32)
    weights = rng.multinomial(M, np.full(M, 1.0 / M), size=n_boot).astype(np.float32)
    bn, bs = weights @ cells_n, weights @ cells_s
    enough = (bn > 0).sum(1) >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        _, gains, thetas, _ = _relu_profile_batch(ks.astype(np.float64), bs / bn, bn.astype(float))
    gains, thetas = np.where(enough, gains, np.nan), np.where(enough, thetas, np.nan)
    alpha = (1 - ci) / 2 * 100
    glo, ghi = np.nanpercentile(gains, [alpha, 100 - alpha])
    tlo, thi = np.nanpercentile(thetas, [alpha, 100 - alpha])
    fit = CurveFit(**{**fit.to_dict(), "gain_lo": float(glo), "gain_hi": float(ghi),
                      "theta_lo": float(tlo), "theta_hi": float(thi), "n_boot": n_boot})
    return fit, curve


def gain_vs_size(sizes: np.ndarray, gains: np.ndarray, *, n_boot: int = 1000, seed: int = 0,
                 ci: float = 0.95) -> dict[str, Any]:
    """How gain depends on group size in one layer: least-squares slope (gain per member of
    size, with its t-based CI), Spearman rho with a bootstrap CI over neurons, and n."""
    sizes, gains = np.asarray(sizes, dtype=np.float64), np.asarray(gains, dtype=np.float64)
    ok = np.isfinite(sizes) & np.isfinite(gains)
    sizes, gains = sizes[ok], gains[ok]
    out: dict[str, Any] = {"n": int(sizes.size), "slope": None, "slope_lo": None, "slope_hi": None,
                           "rho": None, "rho_lo": None, "rho_hi": None, "rho_p": None}
    if sizes.size < 4 or np.ptp(sizes) == 0 or np.ptp(gains) == 0:
        return out
    lr = stats.linregress(sizes, gains)
    tq = stats.t.ppf(0.5 + ci / 2, sizes.size - 2)
    rho = stats.spearmanr(sizes, gains)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, sizes.size, size=(n_boot, sizes.size))
    ra = stats.rankdata(sizes[idx], axis=1)
    rb = stats.rankdata(gains[idx], axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        boots = (ra * rb).sum(1) / np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))
    lo, hi = np.nanpercentile(boots, [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100])
    out.update(slope=float(lr.slope), slope_lo=float(lr.slope - tq * lr.stderr),
               slope_hi=float(lr.slope + tq * lr.stderr), rho=float(rho.statistic),
               rho_p=float(rho.pvalue), rho_lo=_finite(lo), rho_hi=_finite(hi))
    return out


def _finite(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def gain_law(sizes: np.ndarray, gains: np.ndarray, ci: float = 0.95) -> dict[str, Any]:
    """The gain law g ∝ size^beta of one layer: least-squares slope of log(gain) on log(size)
    over the neurons with a positive gain, with its t-based CI (two-sided: ``direction`` is
    "rises", "falls" or "flat" by whether the CI lies above, below or around 0)."""
    sizes, gains = np.asarray(sizes, dtype=np.float64), np.asarray(gains, dtype=np.float64)
    ok = np.isfinite(sizes) & np.isfinite(gains) & (gains > 0) & (sizes > 0)
    out: dict[str, Any] = {"n": int(ok.sum()), "beta": None, "beta_lo": None, "beta_hi": None,
                           "direction": None}
    if ok.sum() < 4 or np.ptp(sizes[ok]) == 0:
        return out
    lr = stats.linregress(np.log(sizes[ok]), np.log(gains[ok]))
    half = float(stats.t.ppf(0.5 + ci / 2, ok.sum() - 2) * lr.stderr)
    lo, hi = float(lr.slope) - half, float(lr.slope) + half
    out.update(beta=float(lr.slope), beta_lo=lo, beta_hi=hi,
               direction="rises" if lo > 0 else "falls" if hi < 0 else "flat")
    return out


def random_groups(sizes: np.ndarray, candidates: np.ndarray, rng: np.random.Generator
                  ) -> list[np.ndarray]:
    """For each size s in ``sizes``, s distinct pre indices drawn at random from ``candidates``
    (int (n,)), ascending: the same-size control for a neuron's 1FC group."""
    return [np.sort(rng.choice(candidates, size=min(int(s), candidates.size), replace=False))
            for s in np.asarray(sizes, dtype=np.int64)]
