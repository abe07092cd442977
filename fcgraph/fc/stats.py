"""Small statistics helpers: the normal upper tail and Benjamini-Hochberg q-values."""

from __future__ import annotations

import math

import numpy as np


def normal_upper_tail(z: np.ndarray | float) -> np.ndarray:
    """P(Z >= z) for a standard normal Z, float64 (0.00135 at z = 3). NaN stays NaN."""
    z = np.asarray(z, dtype=np.float64)
    try:
        from scipy.special import ndtr
    except ImportError:  # NumPy alone: erfc element by element
        return np.asarray(np.frompyfunc(lambda v: 0.5 * math.erfc(v / math.sqrt(2.0)), 1, 1)(z),
                          dtype=np.float64)
    return np.asarray(ndtr(-z), dtype=np.float64)


def bh_qvalues(p: np.ndarray, m: int) -> np.ndarray:
    """Benjamini-Hochberg q-values of the SMALLEST p-values of a family of m tests.

    ``p`` (k,) holds every p-value of the family up to some cut-off (e.g. all p <= fdr); the
    other m - k are larger. q_(i) = min_{j >= i} p_(j) m / j, capped at 1, returned in the order
    of ``p``. Exact for every q <= the cut-off (the omitted tests only raise larger q-values).
    """
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, p.size + 1)
    q_sorted = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    q = np.empty_like(q_sorted)
    q[order] = q_sorted
    return q
