"""How a condition's edges differ from the clean ones, with the overlap expected by chance.

For one layer pair with N pairs tested under both conditions (both neurons with fc's
``min_spikes`` spikes in clean and in the condition: the only pairs that can be an edge in both),
clean edge set A and condition edge set B:

- ``lost_fraction`` = |A \\ B| / |A|; ``gained`` = |B \\ A|; ``jaccard`` = |A n B| / |A u B|;
- ``jaccard_chance``: the Jaccard expected if B were |B| pairs drawn at random among the N
  (E|A n B| = |A| |B| / N), i.e. no clean structure survives;
- ``survival`` = (J - J_chance) / (1 - J_chance): 0 at chance, 1 when the sets are identical
  (chance-corrected like Cohen's kappa; negative below chance);
- per post neuron (with an in-edge in A or B), the Jaccard of its two in-edge sets (its 1FC
  group under both conditions); ``neuron_jaccard`` is their mean with a bootstrap CI over
  neurons, beside its chance level (same formula per neuron, N = pre neurons tested in both), and
  ``neuron_survival`` the mean chance-corrected per-neuron overlap, also with a CI.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats


def _keys(pre: np.ndarray, post: np.ndarray, n_pre: int) -> np.ndarray:
    return np.unique(np.asarray(post, dtype=np.int64) * n_pre + np.asarray(pre, dtype=np.int64))


def chance_jaccard(a: float, b: float, n: float) -> float:
    """Expected-overlap Jaccard of two random sets of sizes a and b among n items."""
    if n <= 0 or a + b == 0:
        return float("nan")
    inter = a * b / n
    return float(inter / (a + b - inter))


def compare_edges(clean: tuple[np.ndarray, np.ndarray], other: tuple[np.ndarray, np.ndarray],
                  n_pre: int, n_post: int, *, n_pairs: int | None = None,
                  n_pre_tested: int | None = None, n_boot: int = 1000,
                  seed: int = 0) -> dict[str, Any]:
    """Edge-set change of one layer pair. ``clean`` / ``other``: (pre_idx, post_idx) arrays;
    ``n_pairs``: pairs tested under both conditions (default n_pre x n_post);
    ``n_pre_tested``: pre neurons tested under both (default n_pre), the per-neuron chance's N.
    Returns the module's statistics."""
    a = _keys(*clean, n_pre)
    b = _keys(*other, n_pre)
    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    n = n_pairs if n_pairs is not None else n_pre * n_post
    jac = inter / union if union else float("nan")
    j0 = chance_jaccard(a.size, b.size, n)
    out: dict[str, Any] = {
        "clean_edges": int(a.size), "edges": int(b.size), "kept": int(inter),
        "lost": int(a.size - inter), "gained": int(b.size - inter),
        "lost_fraction": float((a.size - inter) / a.size) if a.size else None,
        "density_clean": a.size / n if n else None, "density": b.size / n if n else None,
        "jaccard": float(jac) if union else None, "jaccard_chance": j0 if np.isfinite(j0) else None,
        "survival": float((jac - j0) / (1 - j0)) if union and np.isfinite(j0) and j0 < 1 else None,
    }
    # per post neuron
    post_a, post_b = a // n_pre, b // n_pre
    size_a = np.bincount(post_a, minlength=n_post)
    size_b = np.bincount(post_b, minlength=n_post)
    shared = np.bincount(np.intersect1d(a, b, assume_unique=True) // n_pre, minlength=n_post)
    uni = size_a + size_b - shared
    has = uni > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        nj = shared[has] / uni[has]
        inter0 = size_a[has] * size_b[has] / (n_pre_tested if n_pre_tested else n_pre)
        nj0 = inter0 / (size_a[has] + size_b[has] - inter0)
        ns = np.where(nj0 < 1, (nj - nj0) / (1 - nj0), np.nan)
    out["n_neurons"] = int(has.sum())
    out["neuron_jaccard_chance"] = float(np.nanmean(nj0)) if nj.size else None
    for name, values in (("neuron_jaccard", nj), ("neuron_survival", ns)):
        out.update(_mean_ci(name, values[np.isfinite(values)], n_boot, seed))
    return out


def _mean_ci(name: str, values: np.ndarray, n_boot: int, seed: int) -> dict[str, float | None]:
    """``name``, ``name_lo``, ``name_hi``: mean and percentile-bootstrap CI over neurons."""
    if values.size == 0:
        return {name: None, f"{name}_lo": None, f"{name}_hi": None}
    mean = float(values.mean())
    if values.size < 2 or np.ptp(values) == 0:
        return {name: mean, f"{name}_lo": mean, f"{name}_hi": mean}
    res = stats.bootstrap((values,), np.mean, n_resamples=n_boot, method="percentile",
                          random_state=np.random.default_rng(seed))
    return {name: mean, f"{name}_lo": float(res.confidence_interval.low),
            f"{name}_hi": float(res.confidence_interval.high)}
