"""The exact shift null of the cofiring count: moments over ALL circular shifts, no sampling.

For binary trains a, b and C_s the count of a against b rolled by s:

- over all L bin shifts, sum_s C_s = nA nB and sum_s C_s**2 = sum_tau R_a(tau) R_b(tau), with
  R the circular autocorrelation R_a(tau) = sum_t a[t] a[t + tau];
- over all M whole-image shifts (L = M T, each train viewed as an M x T array x[k, p]),
  sum_k C_k = sum_p nA_p nB_p and sum_k C_k**2 = sum_p sum_q sum_tau R^a_pq(tau) R^b_pq(tau),
  with R_pq(tau) = sum_k x[k, p] x[k + tau, q] taken along the image axis.

So one product of autocorrelation feature matrices (n_pre, F) @ (F, n_post) gives every pair's
sum of squares: F = L/2 + 1 features for bins, about T**2 M / 2 = T L / 2 for images (using
R_pq(tau) = R_qp(-tau) and the symmetry of R_pp). The features are integers computed by FFT
and rounded (checked: every FFT value must lie within 1/8 of an integer, else the FFT is redone
in float64); the product runs in float32 for pairs it proves exact (sums below 2**24, see
:func:`float32_exact_limit`) and in float64 otherwise, exact while the sums stay below 2**53
(N * L**2 < 2**53 for N shifts); the moments are combined around a nearby integer, in float64
while every integer involved stays below 2**53 and in int64 beyond. So the null mean and SD
are exact to float64 rounding, and a null SD of 0 is exactly 0.

The shift set excludes the zero shift (the observed alignment) unless asked: removing its term
C_0 from both sums is exact and free. The SD is the SAMPLE SD (ddof = 1) over the shift set, the
same definition as :func:`fcgraph.fc.shifts.shift_null`, so ``exact_null(over="bins")`` equals
``shift_null(shifts=range(1, L), measure="cofire")`` and ``exact_null(over="images")`` equals
``shift_null(shifts=[k*T for k in range(1, M)], measure="cofire")``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import numpy as np

from fcgraph.errors import FcgraphError
from fcgraph.fc.backend import Backend, get_backend
from fcgraph.fc.counts import DEFAULT_TILE, StagedTrains, counts_to_int64, summed_products
from fcgraph.spikes import Spikes, as_source, check_pair

#: Bytes of pre-layer features multiplied at once (bigger layers go block by block).
FEATURE_BLOCK_BYTES = 256 << 20
#: Bytes of pre-layer features kept for all post tiles (above this they are recomputed).
FEATURE_CACHE_BYTES = 2 << 30
#: Largest distance from an integer that an FFT autocorrelation may show and still be rounded.
ROUNDING_SLACK = 0.125
#: Bytes of one FFT work array (n_rows, T, fft_length) float64: rows go a few at a time (4 MB:
#: measured best, between cache reuse and per-call overhead).
FFT_CHUNK_BYTES = 4 << 20
#: Integers below this are exact in float64 (tests lower it to reach the int64 path).
FLOAT64_EXACT = 2**53
#: Feature rows per thread at least (smaller inputs run on one thread).
MIN_ROWS_PER_THREAD = 128


def fft_module() -> ModuleType:
    """``scipy.fft`` (faster, releases the GIL) when SciPy is installed, else ``numpy.fft``."""
    try:
        import scipy.fft
    except ImportError:
        return np.fft
    return scipy.fft


def _smooth(n: int) -> bool:
    """True when n has no prime factor above 5 (a fast FFT length)."""
    for f in (2, 3, 5):
        while n % f == 0 and n > 1:
            n //= f
    return n == 1


def _next_smooth(n: int) -> int:
    """The smallest 5-smooth number >= n."""
    while not _smooth(n):
        n += 1
    return n


def _symmetric_lag_weights(n: int) -> np.ndarray:
    """Weights of lags 0 .. n//2 that sum a symmetric sequence f(tau) = f(n - tau) over all n lags."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


class ExactShiftNull:
    """Exact moments of the cofiring count over all bin shifts or all whole-image shifts.

    ``over``: "bins" (N = L shifts) or "images" (N = M = L / T shifts by multiples of T).
    """

    def __init__(self, L: int, *, over: str = "images", T: int | None = None,
                 include_zero_shift: bool = False, ddof: int = 1) -> None:
        if over not in ("bins", "images"):
            raise FcgraphError(f"over must be 'bins' or 'images', got {over!r}")
        if over == "images" and (T is None or T < 1 or L % T):
            raise FcgraphError(f"over='images' needs T dividing L = {L} (got T = {T})")
        self.L, self.over, self.include_zero_shift, self.ddof = L, over, include_zero_shift, ddof
        self.T = T if over == "images" else 1
        self.M = L // self.T
        self.n_shifts = self.M - (0 if include_zero_shift else 1)
        p, q = np.triu_indices(self.T)
        self._pairs = list(zip(p.tolist(), q.tolist(), strict=True))
        n_lags = self.M // 2 + 1
        self.n_features = sum(n_lags if pp == qq else self.M for pp, qq in self._pairs)
        # feature blocks in column order (as _features writes them): (p, q, width, c_P)
        blocks = [(pp, qq, n_lags if pp == qq else self.M, 1 if pp == qq else 2)
                  for pp in range(self.T) for qq in range(pp, self.T)]
        self.block_p = np.array([b[0] for b in blocks])
        self.block_q = np.array([b[1] for b in blocks])
        self.block_c = np.array([b[3] for b in blocks], dtype=np.int64)
        self.block_start = np.concatenate([[0], np.cumsum([b[2] for b in blocks])])
        lag_w = _symmetric_lag_weights(self.M)
        #: the symmetry weight of every feature column (lag weights on the diagonal, 2 off it)
        self.weights = np.concatenate([lag_w if b[0] == b[1] else np.full(self.M, 2.0)
                                       for b in blocks])
        #: FFT length of the autocorrelations: M when 5-smooth, else a 5-smooth N >= 2 M - 1
        self.fft_length = self.M if _smooth(self.M) else _next_smooth(2 * self.M - 1)
        #: factor bounding float32 sums of squared residuals (see :meth:`_norm_inflation`)
        self.norm_inflation = self._norm_inflation()

    def baseline(self, phase_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(g, d), int64 (n, n_blocks): g_P = round(n_p n_q / M), d_P = n_p n_q - M g_P."""
        prod = phase_counts[:, self.block_p] * phase_counts[:, self.block_q]
        g = (2 * prod + self.M) // (2 * self.M)
        return g, prod - self.M * g

    def cross_left(self, g: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Left factor (n, 3 n_blocks) float64 of the baseline part of the sum of squares."""
        c = self.block_c
        return np.hstack([c * self.M * g, c * g, c * d]).astype(np.float64)

    def cross_right(self, g: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Right factor (n, 3 n_blocks) float64 of the baseline part of the sum of squares."""
        return np.hstack([g, d, g]).astype(np.float64)

    def features(self, spikes: np.ndarray, weighted: bool,
                 dtype: type[np.floating] = np.float64) -> np.ndarray:
        """Autocorrelation features, (n, n_features) of ``dtype``, of exact integer value <= 2 M.

        ``weighted`` multiplies in the symmetry weights (put them on one side of the product).
        ``dtype`` float32 is exact too while 2 M <= 2**24 (every value is an integer <= 2 M).
        """
        zero = np.zeros((spikes.shape[0], len(self.block_c)), dtype=np.int64)
        return self.residual_features(spikes, zero, weighted, dtype)[0]

    def residual_features(self, spikes: np.ndarray, g: np.ndarray, weighted: bool,
                          dtype: type[np.floating] = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """(res, norms): features minus their block baselines ``g`` (int64 (n, n_blocks), see
        :meth:`baseline`), (n, n_features) of ``dtype``, times the symmetry weights when
        ``weighted``; and upper bounds of the weighted norms sqrt(sum_l w_l r_l**2), float64
        (n,), at most a relative 2**-9 above them (float32 dot products and their proven error
        bound, :attr:`norm_inflation`; the Cauchy-Schwarz test needs upper bounds only).

        Exact: every residual is an integer of magnitude <= M, so float32 holds it while
        4 M < 2**24. The FFTs run in float32 first and are
        redone in float64 unless every value lies within :data:`ROUNDING_SLACK` of an integer.
        Rows go a few at a time (cache-sized) and are split over threads (the FFTs of
        :func:`fft_module` and NumPy release the GIL).
        """
        n = spikes.shape[0]
        out = np.empty((n, self.n_features), dtype=dtype)
        norms = np.empty(n)
        workers = max(1, min(os.cpu_count() or 1, n // MIN_ROWS_PER_THREAD))
        bounds = np.linspace(0, n, workers + 1).astype(int)
        step = max(1, FFT_CHUNK_BYTES // (8 * self.T * self.fft_length))

        def job(a: int, b: int) -> None:
            for i0 in range(a, b, step):
                rows = slice(i0, min(i0 + step, b))
                for fft_dtype in (np.float32, np.float64):
                    slack = self._residual_rows(spikes[rows], g[rows], weighted, fft_dtype,
                                                out[rows], norms[rows])
                    if slack <= ROUNDING_SLACK:
                        break
                else:
                    raise FcgraphError(f"autocorrelations of {self.M} images are beyond float64 "
                                       f"FFT precision (rounding slack {slack:.3f})")

        if workers == 1:
            job(0, n)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(job, bounds[:-1].tolist(), bounds[1:].tolist()))
        return out, norms

    def _residual_rows(self, spikes: np.ndarray, g: np.ndarray, weighted: bool,
                       fft_dtype: type[np.floating], out: np.ndarray, norms: np.ndarray) -> float:
        """Fill ``out`` and ``norms`` for a few rows (see :meth:`residual_features`); return the
        rounding slack of the FFTs."""
        n = spikes.shape[0]
        # (n, T, M): phase-major so every FFT runs along the last, contiguous axis
        x = np.ascontiguousarray(np.asarray(spikes).reshape(n, self.M, self.T).transpose(0, 2, 1),
                                 dtype=fft_dtype)
        # An FFT of length M is slow when M has a large prime factor (1797 images = 3 x 599):
        # then correlate linearly at a 5-smooth length N >= 2M - 1 and fold the negative lags,
        # R(tau) = c[tau] + c[N - M + tau] (tau >= 1).
        N = self.fft_length
        fft = fft_module()
        spec = fft.rfft(x, n=N, axis=-1)  # (n, T, N//2+1)
        n_lags = self.M // 2 + 1
        lag_w = _symmetric_lag_weights(self.M)
        direct = N == self.M
        inflate = self.norm_inflation
        sq = np.zeros(n)
        col, blk, slack = 0, 0, 0.0
        for p in range(self.T):
            k = self.T - p
            prod = np.conj(spec[:, p:p + 1]) * spec[:, p:]
            if direct:  # M g off the zero frequency is g off every lag (the residuals r)
                prod[..., 0] -= (self.M * g[:, blk:blk + k]).astype(x.dtype)
            cross = fft.irfft(prod, n=N, axis=-1)
            if not direct:
                folded = cross[..., :self.M].copy()
                folded[..., 1:] += cross[..., N - self.M + 1:]
                cross = folded
                cross -= g[:, blk:blk + k, None].astype(cross.dtype)
            blk += k
            res = np.rint(cross)  # (n, T - p, M): R_pq(tau) - g for q = p .. T-1
            cross -= res
            slack = max(slack, float(cross.max(initial=0.0)), -float(cross.min(initial=0.0)))
            # sum_l w_l r_l**2 = 2 sum_l r_l**2 - r_0**2 (- r_{M/2}**2 for even M) on the diagonal
            diag = res[:, 0, :n_lags]
            edges = diag[:, 0].astype(np.float64) ** 2
            if self.M % 2 == 0:
                edges += diag[:, -1].astype(np.float64) ** 2
            sq += 2.0 * inflate * self._dot(diag, inflate) - edges
            if k > 1:
                off = res[:, 1:].reshape(n, (k - 1) * self.M)
                sq += 2.0 * inflate * self._dot(off, inflate)
            np.multiply(diag, lag_w if weighted else 1.0, out=out[:, col:col + n_lags],
                        casting="unsafe")
            col += n_lags
            width = (k - 1) * self.M
            if width:  # off-diagonal phase pairs (p, q > p), all M lags; a view of out's columns
                target = out[:, col:col + width].reshape(n, k - 1, self.M)
                assert np.may_share_memory(target, out)  # splitting one axis never copies
                np.multiply(res[:, 1:], 2.0 if weighted else 1.0, out=target, casting="unsafe")
                col += width
        np.sqrt(sq, out=norms)
        return slack

    def _norm_inflation(self) -> float:
        """Factor that turns float32 sums of squares of residual rows into upper bounds.

        A float32 sum of K non-negative terms (each a product rounded at most once) lies
        within gamma_{K+1} = (K+1) u / (1 - (K+1) u), u = 2**-24, of the true sum in any
        summation order, so the true sum is at most the computed one / (1 - gamma_{K+1}).
        1.0 means: too many terms, sum in float64 instead (:meth:`_dot`)."""
        terms = max(self.M // 2 + 1, (self.T - 1) * self.M) + 1
        gamma = terms * 2.0**-24 / (1.0 - terms * 2.0**-24) if terms * 2.0**-24 < 0.5 else 1.0
        return 1.0 / (1.0 - gamma) * (1.0 + 2.0**-40) if gamma < 2.0**-8 else 1.0

    @staticmethod
    def _dot(rows: np.ndarray, inflate: float) -> np.ndarray:
        """Row-wise sums of squares, float64 (n,): a float32 dot product when ``inflate`` > 1
        (bounded by it), else summed in float64."""
        if inflate > 1.0:  # (einsum on NumPy < 2.0: the same bound holds in any order)
            dot = np.vecdot(rows, rows) if hasattr(np, "vecdot") else np.einsum("ij,ij->i", rows, rows)
            return dot.astype(np.float64)
        return np.einsum("ij,ij->i", rows, rows, dtype=np.float64)

    def phase_counts(self, spikes: np.ndarray) -> np.ndarray:
        """Spikes per within-image phase, int64 (n, T) (one column for bins)."""
        n = spikes.shape[0]
        return np.asarray(spikes).reshape(n, self.M, self.T).sum(axis=1, dtype=np.int64)

    @property
    def sum_dtype(self) -> type[np.number]:
        """dtype that holds the moment sums exactly: float64 while every integer of
        :meth:`moments` (at most 2 N L**2 for N = all shifts) stays below
        :data:`FLOAT64_EXACT`, else int64."""
        return np.float64 if 2 * self.M * self.L**2 < FLOAT64_EXACT else np.int64

    def moments(self, sum_sq_all: np.ndarray, sum_all: np.ndarray,
                observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, sd) float64 from the all-shift sums and the observed counts C_0 (arrays of
        exact integer values, computed in :attr:`sum_dtype`)."""
        n = self.n_shifts
        dtype = self.sum_dtype
        s1, s2 = sum_all.astype(dtype, copy=False), sum_sq_all.astype(dtype, copy=False)
        if not self.include_zero_shift:
            obs = observed.astype(dtype, copy=False)
            s1 = s1 - obs
            s2 = s2 - obs * obs
        mean = s1 / n
        if n - self.ddof <= 0:
            return mean, np.full_like(mean, np.nan)
        # Sum of squared deviations from a nearby integer c, exact (no cancellation):
        # e = sum (C - c)**2 = s2 - c (2 s1 - n c), d = s1 - n c; SS about the mean = e - d**2 / n.
        c = np.rint(mean).astype(dtype, copy=False)
        t = c * n
        d = s1 - t
        np.subtract(2 * s1, t, out=t)
        np.multiply(c, t, out=t)
        e = np.subtract(s2, t, out=t)
        ss = e.astype(np.float64, copy=False)
        ss -= d.astype(np.float64, copy=False) ** 2 / n
        np.maximum(ss, 0.0, out=ss)
        ss /= n - self.ddof
        return mean, np.sqrt(ss, out=ss)


def float32_exact_limit(n_terms: int) -> float:
    """Largest float32 dot product of non-negative integers that is certainly exact.

    A float32 sum of K non-negative terms lies within gamma_K = K u / (1 - K u) (u = 2**-24) of
    the true sum in any order; a result r <= (1 - gamma_K) 2**24 proves the true sum is <= 2**24,
    so every product and partial sum was an exactly representable integer.
    """
    ku = n_terms * 2.0**-24
    return (1.0 - ku / (1.0 - ku)) * 2.0**24 if ku < 0.5 else 0.0


#: Bound on ||x|| ||y|| (Cauchy-Schwarz) under which a float32 dot product of integers is exact:
#: every partial sum is an integer of magnitude <= sum |x_l y_l| <= ||x|| ||y|| <= 2**24. The
#: margin covers the float64 rounding of the norms themselves.
NORM_PRODUCT_LIMIT = 2.0**24 * (1.0 - 2.0**-20)


class ExactNullBlocks:
    """The pre layer's autocorrelation features for :class:`ExactShiftNull`, and the products.

    The sum of squares is split exactly into a small part and a residual part. Within each
    feature block P = (p, q) (phase pair; one block over bins) the autocorrelation R_pq(tau)
    fluctuates around n_p n_q / M; with the integer g_P = round(n_p n_q / M), the residual
    r = R - g, the block weight c_P (1 on the diagonal, 2 off it), the lag weights w (summing
    to c_P M over a block) and d_P = n_p n_q - M g_P:

        sum_l w_l R^a_l R^b_l = sum_P c_P (M g^a_P g^b_P + g^a_P d^b_P + d^a_P g^b_P)
                                + sum_l w_l r^a_l r^b_l.

    The first sum is a float64 product of 3 T (T + 1) / 2 columns (exact: all terms are far
    below 2**53). The residuals are small integers (about the square root of R), so their
    product runs in IEEE float32 (NumPy; CuPy through cuBLAS's pedantic float32, never TF32)
    for every pair whose weighted norms prove it exact (:data:`NORM_PRODUCT_LIMIT`); the other
    pairs, and every pair on torch (where TF32 may be on), use float64, exact below 2**53. Pre
    residual features are kept in float32 (exact: |w r| <= 4 M < 2**24) within
    :data:`FEATURE_CACHE_BYTES`, else recomputed per block of :data:`FEATURE_BLOCK_BYTES` for
    every post tile.

    ``features``: the pre rows' UNweighted residual features (n_pre, n_features) float32 and
    their norms (n_pre,), as :meth:`moments` computed them for these neurons as a post layer
    (see :class:`~fcgraph.fc.feature_relay.FeatureRelay`); taken over (weighted in place)
    instead of computed again, when they fit the cache.
    """

    def __init__(self, null: ExactShiftNull, pre: np.ndarray, backend: Backend,
                 features: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.null, self.pre, self.backend = null, pre, backend
        n_pre, n_feat = pre.shape[0], null.n_features
        self.rows = max(1, FEATURE_BLOCK_BYTES // (8 * max(n_feat, 1)))
        self.phase_counts = null.phase_counts(pre)
        self.narrow = backend.exact_float32 and 4 * null.M < 2**24
        self.limit = NORM_PRODUCT_LIMIT
        self.dtype = np.float32 if 4 * null.M < 2**24 else np.float64  # features stay exact
        g, d = null.baseline(self.phase_counts)
        self.left = null.cross_left(g, d)
        self._g = g
        self.norms = np.empty(n_pre)
        self._cached: np.ndarray | None = None
        self._device: Any = None  # the cache on the backend's device, when not NumPy
        if cacheable_features(null, n_pre):
            if features is not None:
                self._cached, self.norms = self._weigh(null, *features, n_pre)
                return
            self._cached = np.empty((n_pre, n_feat), dtype=np.float32)
        for i0 in range(0, n_pre, self.rows):  # block by block: no second full copy
            res = self._residuals(i0, min(i0 + self.rows, n_pre))
            if self._cached is not None:
                self._cached[i0:i0 + res.shape[0]] = res

    @staticmethod
    def _weigh(null: ExactShiftNull, res: np.ndarray, norms: np.ndarray,
               n_pre: int) -> tuple[np.ndarray, np.ndarray]:
        """Unweighted residual features, weighted in place (exact: weights 1 or 2), with norms."""
        if res.shape != (n_pre, null.n_features) or res.dtype != np.float32 or norms.shape != (n_pre,):
            raise FcgraphError(f"features of shape {res.shape} ({res.dtype}) do not fit {n_pre} "
                               f"neurons x {null.n_features} features (float32)")
        np.multiply(res, null.weights.astype(np.float32), out=res)
        return res, np.asarray(norms, dtype=np.float64)

    def _residuals(self, i0: int, i1: int) -> np.ndarray:
        """Weighted residual features (i1 - i0, n_features) of pre rows i0 .. i1-1; also fills
        their norms."""
        res, self.norms[i0:i1] = self.null.residual_features(self.pre[i0:i1], self._g[i0:i1],
                                                             True, self.dtype)
        return res

    def _device_rows(self, i0: int, i1: int, dtype: str) -> Any:
        """Cached pre rows i0 .. i1-1 as ``dtype`` on a device backend (CuPy, torch), from one
        float32 copy of the cache staged there for the whole layer pair."""
        be = self.backend
        if self._device is None:
            self._device = be.asarray(self._cached, "float32")
        return be.astype(self._device[i0:i1], dtype)

    def _sum_squares(self, i0: int, i1: int, post: dict[str, Any]) -> np.ndarray:
        """The residual part of the sum of C**2, exact integers in ``null.sum_dtype``
        (i1 - i0, n_post), for pre rows i0 .. i1-1 against the staged post residuals ``post``
        (see :meth:`moments`)."""
        be = self.backend
        cached = self._cached is not None
        on_device = cached and be.name != "numpy"
        feats = self._cached[i0:i1] if cached else self._residuals(i0, i1)
        out = np.empty((i1 - i0, post["norms"].size), dtype=self.null.sum_dtype)
        if self.narrow:  # IEEE float32 (NumPy, or cuBLAS without TF32): exact where ok
            ok = self.norms[i0:i1, None] * post["norms"][None, :] <= self.limit
            if "float32" not in post:  # staged once per post tile
                post["float32"] = be.asarray(post["res"], "float32")
            left = self._device_rows(i0, i1, "float32") if on_device else be.asarray(feats, "float32")
            narrow = be.to_numpy(be.matmul_nt_float32(left, post["float32"]))
            np.rint(narrow, out=out, casting="unsafe")
            bad_rows, bad_cols = np.flatnonzero(~ok.all(axis=1)), np.flatnonzero(~ok.all(axis=0))
        else:
            bad_rows, bad_cols = np.arange(i1 - i0), np.arange(post["norms"].size)
        if bad_rows.size and bad_cols.size:
            if bad_rows.size == feats.shape[0]:
                block = self._device_rows(i0, i1, "float64") if on_device else \
                    be.asarray(feats, "float64")
            else:
                block = be.asarray(feats[bad_rows], "float64")
            if bad_cols.size == post["res"].shape[0]:  # staged once per post tile
                if "wide" not in post:
                    post["wide"] = be.asarray(post["res"], "float64")
                right = post["wide"]
            else:
                right = be.asarray(post["res"][bad_cols], "float64")
            prod = be.matmul_nt(block, right)
            out[np.ix_(bad_rows, bad_cols)] = np.rint(be.to_numpy(prod))
        return out

    def moments(self, post: np.ndarray, observed: np.ndarray,
                keep: Callable[[np.ndarray, np.ndarray], None] | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
        """(mean, sd) float64 (n_pre, n_post_tile) for boolean post trains and their counts.

        ``keep(res, norms)``, when given, receives the tile's unweighted residual features and
        norms (what ``features`` of a later :class:`ExactNullBlocks` takes)."""
        null = self.null
        phase_post = null.phase_counts(post)
        g, d = null.baseline(phase_post)
        res, norms = null.residual_features(post, g, False, self.dtype)
        if keep is not None:
            keep(res, norms)
        staged = {"res": res, "norms": norms}
        if null.sum_dtype is np.float64:  # sum over all shifts of C (BLAS when exact)
            sum_all = self.phase_counts.astype(np.float64) @ phase_post.T.astype(np.float64)
        else:
            sum_all = self.phase_counts @ phase_post.T
        sum_sq = np.rint(self.left @ null.cross_right(g, d).T).astype(null.sum_dtype, copy=False)
        n_pre = self.pre.shape[0]
        for i0 in range(0, n_pre, self.rows):
            i1 = min(i0 + self.rows, n_pre)
            sum_sq[i0:i1] += self._sum_squares(i0, i1, staged)
        return null.moments(sum_sq, sum_all, observed)


def cacheable_features(null: ExactShiftNull, n_rows: int) -> bool:
    """True when the residual features of ``n_rows`` neurons are kept whole (float32, exact,
    within :data:`FEATURE_CACHE_BYTES`)."""
    return n_rows * null.n_features * 4 <= FEATURE_CACHE_BYTES and 4 * null.M < 2**24


def exact_null(pre: Spikes, post: Spikes, *, T: int | None = None, over: str = "images",
               include_zero_shift: bool = False, ddof: int = 1,
               backend: str | Backend = "numpy",
               tile: int = DEFAULT_TILE) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and SD of the cofiring count over all circular shifts of the post layer.

    ``pre`` (n_pre, L), ``post`` (n_post, L): boolean trains or :class:`SpikeMatrix`.
    ``over="images"`` (default, needs T with L = M T): the M - 1 whole-image shifts k T,
    k = 1 .. M-1; ``over="bins"``: the L - 1 bin shifts 1 .. L-1. ``include_zero_shift`` adds
    the zero shift (the observed alignment: then all M or all L shifts). The SD is the sample SD
    over the shift set (``ddof=1``), as in :func:`~fcgraph.fc.shifts.shift_null`.
    Returns (mean, sd), float64 (n_pre, n_post); post neurons go ``tile`` at a time.
    """
    be = get_backend(backend)
    src_a, src_b = as_source(pre, "pre"), as_source(post, "post")
    L = check_pair(src_a, src_b)
    null = ExactShiftNull(L, over=over, T=T, include_zero_shift=include_zero_shift, ddof=ddof)
    pre_rows = src_a.rows()
    blocks = ExactNullBlocks(null, pre_rows, be)
    staged_pre = StagedTrains(pre_rows, be)
    mean = np.empty((src_a.n_neurons, src_b.n_neurons))
    sd = np.empty_like(mean)
    for j0 in range(0, src_b.n_neurons, tile):
        post_rows = src_b.rows(j0, j0 + tile)
        observed = counts_to_int64(be, summed_products(staged_pre, StagedTrains(post_rows, be),
                                                       [(0, 0, L)]))
        m, s = blocks.moments(post_rows, observed)
        mean[:, j0:j0 + post_rows.shape[0]] = m
        sd[:, j0:j0 + post_rows.shape[0]] = s
    return mean, sd
