"""The circular-shift null: the post layer rolled as a whole by sampled (or given) offsets.

A shift s rolls every post train by the same s bins (``numpy.roll(post, s, axis=1)``), which
keeps each train's spike count and temporal structure and breaks only the alignment with the
pre layer. Whole-image shifts (multiples of T) also keep the within-image phase that all
neurons share; other offsets misalign it and bias z upward (docs/design.md).

Statistics over the shift set are the mean and the sample SD (``ddof=1``) of each pair's
cofiring count (or measure) across shifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.fc.backend import Backend, get_backend
from fcgraph.fc.counts import (
    DEFAULT_TILE,
    StagedTrains,
    counts_to_int64,
    shift_pieces,
    summed_products,
)
from fcgraph.fc.measures import TiledSttc, measure_from_counts
from fcgraph.spikes import Spikes, as_source, check_pair


def draw_shifts(L: int, n_shifts: int = 100, min_shift: int = 40, shift_unit: int = 1,
                seed: int = 0) -> np.ndarray:
    """Signed bin offsets, int64 (n_shifts,): ceil(n/2) forward (+m), floor(n/2) backward (-m).

    Each magnitude m is a multiple of ``shift_unit`` in [max(min_shift, 1), L - max(min_shift, 1)]
    (whole images when shift_unit = T; shift_unit = 1 is the lab's any-offset draw). Each half is
    drawn without replacement when it has enough distinct magnitudes, else with replacement.
    """
    if n_shifts < 1 or shift_unit < 1:
        raise FcgraphError("n_shifts and shift_unit must be positive")
    lo = max(int(min_shift), 1)
    k_lo, k_hi = -(-lo // shift_unit), (L - lo) // shift_unit
    if k_hi < k_lo:
        raise BadArgument("--min-shift", f"no shift of at least {min_shift} bins in units of "
                                         f"{shift_unit} fits {L} bins")
    magnitudes = np.arange(k_lo, k_hi + 1, dtype=np.int64) * shift_unit
    rng = np.random.default_rng(seed)
    n_fwd, n_bwd = (n_shifts + 1) // 2, n_shifts // 2
    fwd = rng.choice(magnitudes, size=n_fwd, replace=n_fwd > magnitudes.size)
    bwd = rng.choice(magnitudes, size=n_bwd, replace=n_bwd > magnitudes.size)
    return np.concatenate([fwd, -bwd]).astype(np.int64)


def trial_shifts(L: int, trials: int) -> np.ndarray:
    """The trial-shuffle null's offsets, int64 (trials - 1,): k x L / trials for k = 1 .. trials-1.

    A recording of ``trials`` repeats of the same images, trial-major (bin ``(r n + i) T + t`` is
    step t of image i in trial r), rolled by k whole trials pairs each pre trial r with post
    trial r + k of the same image: the shift predictor. It keeps every stimulus-locked
    correlation and breaks only what is shared within a trial.
    """
    if trials < 3:  # the null SD is over the trials - 1 other trials: at least two of them
        raise BadArgument("--null", f"the trial null needs a recording of 3 or more trials "
                                    f"(fcgraph record --trials), this one has {trials}")
    if L % trials:
        raise FcgraphError(f"L = {L} bins is not a whole number of {trials} trials")
    return np.arange(1, trials, dtype=np.int64) * (L // trials)


def resolve_shifts(L: int, shifts: Any, *, T: int | None, n_shifts: int, min_shift: int,
                   shift_unit: int | None, seed: int) -> np.ndarray:
    """Explicit ``shifts`` as int64, or a draw with shift_unit defaulting to T."""
    if shifts is not None:
        out = np.atleast_1d(np.asarray(shifts, dtype=np.int64))
        if out.ndim != 1 or out.size == 0:
            raise FcgraphError("shifts must be a non-empty 1-D list of bin offsets")
        return out
    unit = shift_unit if shift_unit is not None else T
    if unit is None:
        raise FcgraphError("give T (whole-image shifts) or shift_unit (1 for any offset)")
    return draw_shifts(L, n_shifts, min_shift, unit, seed)


@dataclass
class NullMoments:
    """Null statistics of one block of pairs, float64 (n_pre, n_block).

    ``n_ge``: shifts whose count reached the observed count (int64), when asked for.
    """

    mean: np.ndarray
    sd: np.ndarray
    n_ge: np.ndarray | None = None


class RunningMoments:
    """Mean and SD over a stream of equally shaped arrays, shifted by the first for stability.

    Arrays are float64 of any backend, or NumPy float32 holding exact values (then subtracted
    in float64 into one scratch array, with no new array per call). With integer-valued
    counts every sum is exact in float64, so identical values give SD 0.
    """

    def __init__(self) -> None:
        self.n = 0
        self.ref: Any = None
        self.s1: Any = None
        self.s2: Any = None
        self._scratch: np.ndarray | None = None

    def add(self, x: Any) -> None:
        if self.ref is None:
            self.ref = x.astype(np.float64) if isinstance(x, np.ndarray) else x
            self.s1 = self.ref * 0  # NaN where the first array is NaN
            self.s2 = self.ref * 0
        elif isinstance(x, np.ndarray):
            if self._scratch is None:
                self._scratch = np.empty_like(self.ref)
            d = np.subtract(x, self.ref, out=self._scratch, dtype=np.float64)
            self.s1 += d
            np.multiply(d, d, out=d)
            self.s2 += d
        else:  # one new array (d) per call
            d = x - self.ref
            self.s1 += d
            d *= d
            self.s2 += d
        self.n += 1

    def result(self, ddof: int) -> tuple[Any, Any]:
        """(mean, variance with ``ddof``); variance NaN when n <= ddof."""
        mean = self.ref + self.s1 / self.n
        if self.n - ddof <= 0:
            return mean, mean * np.nan
        var = (self.s2 - self.s1 * self.s1 / self.n) / (self.n - ddof)
        return mean, var * (var > 0)


def count_null_block(pre: StagedTrains, post: StagedTrains, shifts: np.ndarray, *,
                     observed: Any = None, ddof: int = 1) -> NullMoments:
    """Shift-null mean and SD of the counts of one (pre, post tile) block.

    ``observed``: the block's unshifted counts as returned by
    :func:`~fcgraph.fc.counts.summed_products`; when given, ``n_ge`` counts the shifts whose
    count is >= it (for empirical p-values). Accumulates on the backend's device.
    """
    be = pre.backend
    moments = RunningMoments()
    n_ge = None
    for s in shifts:
        counts = summed_products(pre, post, shift_pieces(pre.L, int(s)))
        moments.add(counts if isinstance(counts, np.ndarray) else be.astype(counts, "float64"))
        if observed is not None:
            hit = be.astype(counts >= observed, "int64")
            n_ge = hit if n_ge is None else n_ge + hit
    mean, var = moments.result(ddof)
    return NullMoments(mean=be.to_numpy(mean).astype(np.float64),
                       sd=np.sqrt(be.to_numpy(var).astype(np.float64)),
                       n_ge=None if n_ge is None else be.to_numpy(n_ge).astype(np.int64))


def _measure_null_block(pre: StagedTrains, post: np.ndarray, shifts: np.ndarray, measure: str,
                        dt: int, ddof: int) -> NullMoments:
    """Shift-null mean and SD of a measure (host arithmetic; NaN propagates)."""
    be, L = pre.backend, pre.L
    n_pre = np.count_nonzero(pre.host, axis=1)
    n_post = np.count_nonzero(post, axis=1)
    staged = StagedTrains(post, be)
    tiled = TiledSttc(pre.host, dt, be) if measure == "sttc" and dt > 0 else None
    moments = RunningMoments()
    for s in shifts:
        if tiled is not None:
            values = tiled(np.roll(post, int(s), axis=1))
        else:
            counts = counts_to_int64(be, summed_products(pre, staged, shift_pieces(L, int(s))))
            values = measure_from_counts(measure, counts, n_pre, n_post, L)
        moments.add(values)
    mean, var = moments.result(ddof)
    return NullMoments(mean=mean, sd=np.sqrt(var))


def shift_null(pre: Spikes, post: Spikes, shifts: Any = None, *, T: int | None = None,
               n_shifts: int = 100, min_shift: int = 40, shift_unit: int | None = None,
               seed: int = 0, measure: str = "sttc", dt: int = 0, ddof: int = 1,
               backend: str | Backend = "numpy",
               tile: int = DEFAULT_TILE) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample SD of a measure over circular shifts of the whole post layer.

    ``pre`` (n_pre, L), ``post`` (n_post, L): boolean trains or :class:`SpikeMatrix`.
    ``shifts``: explicit bin offsets (any integers; taken modulo L); else ``n_shifts`` are drawn
    by :func:`draw_shifts` with ``shift_unit`` (default T: whole images; 1: any offset).
    ``measure``: "sttc" (with ``dt`` bins), "pearson" or "cofire" (the count).
    Returns (mean, sd), float64 (n_pre, n_post); sd uses ``ddof`` (1: sample SD).
    Each shift is two products on split column ranges; post neurons go ``tile`` at a time.
    """
    if measure not in ("sttc", "pearson", "cofire"):
        raise FcgraphError(f"unknown measure {measure!r} (sttc, pearson, cofire)")
    be = get_backend(backend)
    src_a, src_b = as_source(pre, "pre"), as_source(post, "post")
    L = check_pair(src_a, src_b)
    offsets = resolve_shifts(L, shifts, T=T, n_shifts=n_shifts, min_shift=min_shift,
                             shift_unit=shift_unit, seed=seed)
    a = StagedTrains(src_a.rows(), be)
    mean = np.empty((src_a.n_neurons, src_b.n_neurons))
    sd = np.empty_like(mean)
    for j0 in range(0, src_b.n_neurons, tile):
        block = src_b.rows(j0, j0 + tile)
        if measure == "cofire":
            res = count_null_block(a, StagedTrains(block, be), offsets, ddof=ddof)
        else:
            res = _measure_null_block(a, block, offsets, measure, dt, ddof)
        mean[:, j0:j0 + block.shape[0]] = res.mean
        sd[:, j0:j0 + block.shape[0]] = res.sd
    return mean, sd
