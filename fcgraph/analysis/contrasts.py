"""Statistics shared by the findings: pooled estimates, per-image contrasts, Holm's correction.

A finding compares the trained network with its controls, so most of its numbers are contrasts
of two estimates. Where both are read out on the same images (decoding), the contrast is formed
image by image and its CI resamples images (each image a block of its T bins), with the layers of
an image kept together, so neither the dependence between layers nor that between neurons of a
layer is mistaken for independent evidence. All CIs are 95%.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

Z95 = 1.959963984540054


def se_from_ci(lo: float | None, hi: float | None) -> float | None:
    """Normal standard error implied by a 95% CI (None when either bound is missing)."""
    if lo is None or hi is None:
        return None
    return (hi - lo) / (2 * Z95)


def pool(values: Sequence[float], ses: Sequence[float], weights: Sequence[float] | None = None
         ) -> tuple[float | None, float | None, float | None]:
    """Weighted mean of independent estimates and its normal 95% CI from their SEs.

    Returns ``(mean, lo, hi)``, all None for no estimates.
    """
    if not values:
        return None, None, None
    w = np.asarray(weights if weights is not None else [1.0] * len(values), dtype=float)
    w = w / w.sum()
    mean = float((w * np.asarray(values)).sum())
    se = float(np.sqrt((w ** 2 * np.asarray(ses, dtype=float) ** 2).sum()))
    return mean, mean - Z95 * se, mean + Z95 * se


def difference(a: tuple[float | None, float | None, float | None],
               b: tuple[float | None, float | None, float | None]
               ) -> tuple[float | None, float | None, float | None]:
    """``a - b`` of two independent (estimate, lo, hi) triples, normal CI from their SEs."""
    sa, sb = se_from_ci(a[1], a[2]), se_from_ci(b[1], b[2])
    if a[0] is None or b[0] is None or sa is None or sb is None:
        return None, None, None
    d, se = a[0] - b[0], float(np.hypot(sa, sb))
    return d, d - Z95 * se, d + Z95 * se


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson 95% CI of a proportion k / n."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def image_mean(per_layer: Sequence[Sequence[float]], *, n_boot: int = 2000, seed: int = 0
               ) -> dict[str, Any]:
    """Mean over layers and images of a per-image quantity, CI by resampling images.

    ``per_layer``: one sequence per layer, each of the same length n_images (e.g. a read-out's
    per-image correctness, or the difference of two read-outs on the same images). Each image's
    values are first averaged over the layers, then the n_images image means are resampled with
    replacement (``n_boot`` times), so an image's layers move together.

    Returns ``{"value", "lo", "hi", "n_images", "n_layers"}`` (values None without data).
    """
    rows = [np.asarray(v, dtype=float) for v in per_layer if v is not None]
    if not rows or len({r.size for r in rows}) != 1 or rows[0].size == 0:
        return {"value": None, "lo": None, "hi": None, "n_images": 0, "n_layers": 0}
    per_image = np.mean(np.stack(rows), axis=0)
    rng = np.random.default_rng(seed)
    boots = per_image[rng.integers(0, per_image.size, (n_boot, per_image.size))].mean(1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"value": float(per_image.mean()), "lo": float(lo), "hi": float(hi),
            "n_images": int(per_image.size), "n_layers": len(rows)}


def paired_p(values: Sequence[float]) -> float | None:
    """Two-sided p-value of a zero mean for per-image paired differences (one-sample t test;
    None for fewer than 2 images, 1.0 when every difference is 0)."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return None
    if np.all(v == v[0]):
        return 0.0 if v[0] != 0 else 1.0
    return float(stats.ttest_1samp(v, 0.0).pvalue)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (same order; None stays None and is not counted)."""
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    order = sorted(idx, key=lambda i: pvalues[i])
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * float(pvalues[i])))
        adjusted[i] = running
    return adjusted
