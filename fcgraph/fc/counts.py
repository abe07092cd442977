"""Exact cofiring counts by float32 matrix products, plain and circularly shifted.

The count of bins where neuron i of ``pre`` and neuron j of ``post`` both spike is
``C[i, j] = sum_t pre[i, t] * post[j, t]``: one product ``pre @ post.T`` of 0/1 float32
matrices. Every partial sum is an integer no larger than the number of bins summed, so a float32
product is exact while it sums at most 2**24 bins; longer time axes are split into chunks of at
most 2**24 bins whose products are added in float64 (exact to 2**53, so L up to 2**31 and far
beyond stays exact).

A shift s rolls the post layer (``numpy.roll(post, s, axis=1)``); its counts are two products
on split column ranges, ``pre[:, s:] @ post[:, :L-s].T + pre[:, :s] @ post[:, L-s:].T``, with no
rolled copy of the post matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.fc.backend import Backend, get_backend
from fcgraph.spikes import F32_EXACT_BINS, Spikes, as_source, check_pair

#: Post neurons per tile unless a caller says otherwise.
DEFAULT_TILE = 1024

#: (pre column start, post column start, length): one column-range product of a sum.
Piece = tuple[int, int, int]


def exact_chunk() -> int:
    """The current float32 exactness limit in bins (read at call time)."""
    return F32_EXACT_BINS


def staging_chunk(backend: Backend, n: int, L: int) -> int:
    """Most bins of (n, L) trains staged on ``backend`` at once: every bin unless one product's
    exactness (:data:`F32_EXACT_BINS`) or the device's memory (:meth:`Backend.staging_bytes`:
    float32 trains too long for a GPU) calls for time chunks."""
    chunk = exact_chunk()
    budget = backend.staging_bytes()
    if budget is not None and n:
        chunk = min(chunk, max(64, budget // (4 * n)))
    return chunk


class StagedTrains:
    """Boolean (n, L) trains on a backend as float32 0/1, staged whole (once) or, when
    :func:`staging_chunk` says so, a time chunk at a time (each product stages its chunk)."""

    def __init__(self, spikes: np.ndarray, backend: Backend) -> None:
        self.host = spikes
        self.backend = backend
        self.n, self.L = spikes.shape
        self.chunk = staging_chunk(backend, self.n, self.L)
        self._whole: Any = None  # staged on first use

    def cols(self, start: int, stop: int) -> Any:
        """Columns start .. stop-1 as a float32 device array of shape (n, stop - start)."""
        if self.chunk >= self.L:
            if self._whole is None:
                self._whole = self.backend.asarray(self.host, "float32")
            return self._whole[:, start:stop]
        return self.backend.asarray(self.host[:, start:stop], "float32")


def summed_products(a: StagedTrains, b: StagedTrains, pieces: list[Piece]) -> Any:
    """sum over pieces of ``a[:, i:i+n] @ b[:, j:j+n].T`` as a device array of exact integers.

    Products go a time chunk at a time (the smaller of ``a.chunk`` and ``b.chunk``); the sum is
    float32 when the pieces sum at most :data:`F32_EXACT_BINS` bins (every partial sum is then
    an integer below 2**24), else float64.
    """
    backend = a.backend
    chunk = min(a.chunk, b.chunk)
    total = sum(length for _, _, length in pieces)
    parts = [(i + off, j + off, min(chunk, length - off))
             for i, j, length in pieces if length > 0 for off in range(0, length, chunk)]
    if not parts:
        return backend.zeros((a.n, b.n), "float32")
    acc = None
    for i, j, n in parts:
        prod = backend.matmul_nt(a.cols(i, i + n), b.cols(j, j + n))
        if total > exact_chunk():
            prod = backend.astype(prod, "float64")
        if acc is None:
            acc = prod
        else:  # acc is a fresh product: add in place
            acc += prod
    return acc


def shift_pieces(L: int, shift: int) -> list[Piece]:
    """The pieces of ``pre @ roll(post, shift, axis=1).T`` (shift taken modulo L)."""
    s = int(shift) % L
    return [(s, 0, L - s), (0, L - s, s)] if s else [(0, 0, L)]


def counts_to_int64(backend: Backend, counts: Any) -> np.ndarray:
    """Device counts of exact integer value as a host int64 array."""
    return np.rint(backend.to_numpy(counts)).astype(np.int64)


def cofire(pre: Spikes, post: Spikes, *, backend: str | Backend = "numpy",
           tile: int = DEFAULT_TILE) -> np.ndarray:
    """Cofiring counts: bins where both neurons spike, int64 (n_pre, n_post).

    ``pre`` (n_pre, L) and ``post`` (n_post, L) are boolean trains (or :class:`SpikeMatrix`).
    Exact for any L (float32 products over chunks of at most 2**24 bins). Post neurons are
    processed ``tile`` at a time.
    """
    be = get_backend(backend)
    src_a, src_b = as_source(pre, "pre"), as_source(post, "post")
    check_pair(src_a, src_b)
    a = StagedTrains(src_a.rows(), be)
    out = np.empty((src_a.n_neurons, src_b.n_neurons), dtype=np.int64)
    for j0 in range(0, src_b.n_neurons, tile):
        b = StagedTrains(src_b.rows(j0, j0 + tile), be)
        out[:, j0:j0 + b.n] = counts_to_int64(be, summed_products(a, b, [(0, 0, a.L)]))
    return out


def shifted_cofire(pre: Spikes, post: Spikes, shift: int, *, backend: str | Backend = "numpy",
                   tile: int = DEFAULT_TILE) -> np.ndarray:
    """Counts of ``pre`` against the whole post layer rolled by ``shift`` bins, int64 (n_pre, n_post).

    Equals ``cofire(pre, numpy.roll(post, shift, axis=1))`` without the rolled copy.
    """
    be = get_backend(backend)
    src_a, src_b = as_source(pre, "pre"), as_source(post, "post")
    L = check_pair(src_a, src_b)
    a = StagedTrains(src_a.rows(), be)
    out = np.empty((src_a.n_neurons, src_b.n_neurons), dtype=np.int64)
    for j0 in range(0, src_b.n_neurons, tile):
        b = StagedTrains(src_b.rows(j0, j0 + tile), be)
        out[:, j0:j0 + b.n] = counts_to_int64(be, summed_products(a, b, shift_pieces(L, shift)))
    return out


def dilate(spikes: np.ndarray, dt: int) -> np.ndarray:
    """Boolean (n, L): bin t is set when the train spikes anywhere in t-dt .. t+dt.

    The window is clipped at the ends of the recording (not circular), as in Cutts & Eglen's
    tiling; dt = 0 returns the trains unchanged.
    """
    spikes = np.asarray(spikes, dtype=bool)
    if dt <= 0:
        return spikes
    n, L = spikes.shape
    csum = np.zeros((n, L + 1), dtype=np.int32 if L < 2**31 else np.int64)
    np.cumsum(spikes, axis=1, out=csum[:, 1:])
    hi = np.minimum(np.arange(L) + dt + 1, L)
    lo = np.maximum(np.arange(L) - dt, 0)
    return (csum[:, hi] - csum[:, lo]) > 0
