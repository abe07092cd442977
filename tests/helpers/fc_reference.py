"""Plain, obviously-correct reference implementations for the fc tests (loops, per pair).

The ``tests/fc`` modules import these; ``tests/fc/test_fc_reference.py`` checks the references
themselves on hand-computed cases.
"""

from __future__ import annotations

import math

import numpy as np


def adversarial_trains(rng: np.random.Generator, L: int) -> np.ndarray:
    """Rows: silent, always on, one spike, very sparse, very dense, middling, first/last bin."""
    rows = [np.zeros(L, bool), np.ones(L, bool)]
    one = np.zeros(L, bool)
    one[rng.integers(L)] = True
    rows.append(one)
    rows += [rng.random(L) < p for p in (0.02, 0.95, 0.3, 0.5)]
    edge = np.zeros(L, bool)
    edge[[0, L - 1]] = True
    rows.append(edge)
    return np.array(rows)


def ref_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((len(a), len(b)), dtype=np.int64)
    for i in range(len(a)):
        for j in range(len(b)):
            out[i, j] = int(np.sum(a[i] & b[j]))
    return out


def ref_sttc_pair(x: np.ndarray, y: np.ndarray, dt: int) -> float:
    """Cutts & Eglen 2014 on bins, directly from the definition (tiles clipped at the ends)."""
    L = x.size
    sx, sy = np.flatnonzero(x), np.flatnonzero(y)
    if sx.size == 0 or sy.size == 0:
        return math.nan

    def tiled_fraction(s: np.ndarray) -> float:
        return sum(1 for t in range(L) if np.any(np.abs(s - t) <= dt)) / L

    def prop_near(s: np.ndarray, other: np.ndarray) -> float:
        return sum(1 for t in s if np.any(np.abs(other - t) <= dt)) / s.size

    ta, tb = tiled_fraction(sx), tiled_fraction(sy)
    pa, pb = prop_near(sx, sy), prop_near(sy, sx)
    if pa * tb == 1 or pb * ta == 1:
        return math.nan
    return 0.5 * ((pa - tb) / (1 - pa * tb) + (pb - ta) / (1 - pb * ta))


def ref_sttc(a: np.ndarray, b: np.ndarray, dt: int = 0) -> np.ndarray:
    return np.array([[ref_sttc_pair(x, y, dt) for y in b] for x in a])


def ref_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.full((len(a), len(b)), np.nan)
    for i, x in enumerate(a.astype(float)):
        for j, y in enumerate(b.astype(float)):
            if x.std() > 0 and y.std() > 0:
                out[i, j] = np.mean((x - x.mean()) * (y - y.mean())) / (x.std() * y.std())
    return out


def brute_shift_counts(a: np.ndarray, b: np.ndarray, shifts) -> np.ndarray:
    """Counts (n_shifts, n_a, n_b) of a against numpy.roll(b, s, axis=1) for each s."""
    ai = a.astype(np.int64)
    return np.array([ai @ np.roll(b, int(s), axis=1).astype(np.int64).T for s in shifts])


def allclose_nan(x: np.ndarray, y: np.ndarray, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    return bool(np.array_equal(np.isnan(x), np.isnan(y))
                and np.allclose(np.nan_to_num(x), np.nan_to_num(y), rtol=rtol, atol=atol))
