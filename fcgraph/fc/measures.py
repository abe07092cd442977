"""Pairwise measures of two layers' trains: STTC (Cutts & Eglen 2014) and Pearson (phi).

At dt = 0 both are functions of the cofiring count c and the spike counts nA, nB over L bins:

- STTC = 1/2 [ (PA - TB) / (1 - PA TB) + (PB - TA) / (1 - PB TA) ] with TA = nA / L,
  PA = c / nA (symmetrically for b);
- Pearson = (L c - nA nB) / sqrt(nA (L - nA) nB (L - nB)).

With dt > 0 bins the STTC tiles +-dt bins around each spike: TA is the fraction of bins within
dt of a spike of A, PA the fraction of A's spikes within dt of a spike of B; the two
coincidence counts are products of one layer's trains with the other's dilated trains.

Undefined values are NaN (never an edge): a silent train, a zero denominator (a train that
fires in every bin, or whose tiles cover the whole recording), or, for Pearson, a train that
fires in every bin.
"""

from __future__ import annotations

import numpy as np

from fcgraph.errors import FcgraphError
from fcgraph.fc.backend import Backend, get_backend
from fcgraph.fc.counts import (
    DEFAULT_TILE,
    StagedTrains,
    cofire,
    counts_to_int64,
    dilate,
    summed_products,
)
from fcgraph.fc.settings import MEASURES
from fcgraph.spikes import Spikes, as_source, check_pair


def _sttc_formula(pa: np.ndarray, pb: np.ndarray, ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        den_a = 1.0 - pa * tb
        den_b = 1.0 - pb * ta
        out = 0.5 * ((pa - tb) / den_a + (pb - ta) / den_b)
    bad = ~(np.isfinite(pa) & np.isfinite(pb)) | (den_a == 0) | (den_b == 0)
    out = np.asarray(out, dtype=np.float64)
    out[np.broadcast_to(bad, out.shape)] = np.nan
    return out


def sttc_from_counts(c: np.ndarray, n_pre: np.ndarray, n_post: np.ndarray, L: int) -> np.ndarray:
    """STTC at dt = 0, float64 (n_pre, n_post), from counts c (n_pre, n_post) and spike counts."""
    return _elementwise("sttc", c, np.asarray(n_pre)[:, None], np.asarray(n_post)[None, :], L)


def _elementwise(measure: str, c: np.ndarray, na: np.ndarray, nb: np.ndarray,
                 L: int) -> np.ndarray:
    """``measure`` at dt = 0 of broadcastable counts and spike counts, float64."""
    c = np.asarray(c, dtype=np.float64)
    na, nb = np.asarray(na, dtype=np.float64), np.asarray(nb, dtype=np.float64)
    if measure == "cofire":
        return np.broadcast_to(c, np.broadcast_shapes(c.shape, na.shape, nb.shape)).copy()
    if measure == "sttc":
        with np.errstate(divide="ignore", invalid="ignore"):
            return _sttc_formula(c / na, c / nb, na / L, nb / L)
    if measure == "pearson":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (L * c - na * nb) / np.sqrt(na * (L - na) * nb * (L - nb))
        bad = (na == 0) | (na == L) | (nb == 0) | (nb == L)
        out = np.asarray(out, dtype=np.float64)
        out[np.broadcast_to(bad, out.shape)] = np.nan
        return out
    raise FcgraphError(f"unknown measure {measure!r} (one of {', '.join(MEASURES)})")


def sttc_from_tiles(hits_pre: np.ndarray, hits_post: np.ndarray, n_pre: np.ndarray,
                    n_post: np.ndarray, tiled_pre: np.ndarray, tiled_post: np.ndarray,
                    L: int) -> np.ndarray:
    """STTC with tiles, float64 (n_pre, n_post).

    ``hits_pre[i, j]``: spikes of pre neuron i within the tiles of post neuron j (PA numerator);
    ``hits_post[i, j]``: spikes of post neuron j within the tiles of pre neuron i;
    ``n_*``: spike counts; ``tiled_*``: bins covered by each neuron's tiles (TA numerator).
    """
    na = np.asarray(n_pre, dtype=np.float64)[:, None]
    nb = np.asarray(n_post, dtype=np.float64)[None, :]
    ta = np.asarray(tiled_pre, dtype=np.float64)[:, None] / L
    tb = np.asarray(tiled_post, dtype=np.float64)[None, :] / L
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = np.asarray(hits_pre, dtype=np.float64) / na
        pb = np.asarray(hits_post, dtype=np.float64) / nb
    return _sttc_formula(pa, pb, ta, tb)


def pearson_from_counts(c: np.ndarray, n_pre: np.ndarray, n_post: np.ndarray,
                        L: int) -> np.ndarray:
    """Pearson (phi) coefficient, float64 (n_pre, n_post); NaN for silent or always-on trains."""
    return _elementwise("pearson", c, np.asarray(n_pre)[:, None], np.asarray(n_post)[None, :], L)


def measure_from_counts(measure: str, c: np.ndarray, n_pre: np.ndarray, n_post: np.ndarray,
                        L: int) -> np.ndarray:
    """``measure`` ("sttc" at dt = 0, "pearson" or "cofire") of counts c (n_pre, n_post) and
    the spike counts n_pre (n_pre,), n_post (n_post,), float64 (n_pre, n_post)."""
    return _elementwise(measure, c, np.asarray(n_pre)[:, None], np.asarray(n_post)[None, :], L)


def measure_of_pairs(measure: str, c: np.ndarray, n_pre: np.ndarray, n_post: np.ndarray,
                     L: int) -> np.ndarray:
    """``measure`` at dt = 0 of k listed pairs, float64 (k,): counts c (k,) and the spike
    counts n_pre (k,), n_post (k,) of each pair's two neurons. Bit for bit the values of
    :func:`measure_from_counts` (the same elementwise arithmetic).

    Finite whenever neither neuron is silent or fires in every bin (see the module docstring),
    so a caller may compute it for chosen pairs only."""
    return _elementwise(measure, c, n_pre, n_post, L)


class TiledSttc:
    """STTC with dt > 0 of one pre layer against tiles of post neurons (products of dilated trains)."""

    def __init__(self, pre: np.ndarray, dt: int, backend: Backend) -> None:
        self.dt = dt
        self.backend = backend
        self.L = pre.shape[1]
        dil = dilate(pre, dt)
        self.n_pre = np.count_nonzero(pre, axis=1)
        self.tiled_pre = np.count_nonzero(dil, axis=1)
        self.pre = StagedTrains(pre, backend)
        self.pre_dilated = StagedTrains(dil, backend)

    def __call__(self, post: np.ndarray) -> np.ndarray:
        """STTC (n_pre, n_post_tile) of the pre layer against boolean post trains (n, L)."""
        dil = dilate(post, self.dt)
        whole = [(0, 0, self.L)]
        hits_pre = summed_products(self.pre, StagedTrains(dil, self.backend), whole)
        hits_post = summed_products(self.pre_dilated, StagedTrains(post, self.backend), whole)
        be = self.backend
        return sttc_from_tiles(counts_to_int64(be, hits_pre), counts_to_int64(be, hits_post),
                               self.n_pre, np.count_nonzero(post, axis=1), self.tiled_pre,
                               np.count_nonzero(dil, axis=1), self.L)


def sttc(pre: Spikes, post: Spikes, dt: int = 0, *, backend: str | Backend = "numpy",
         tile: int = DEFAULT_TILE) -> np.ndarray:
    """Spike time tiling coefficient of every pair, float64 (n_pre, n_post).

    ``pre`` (n_pre, L), ``post`` (n_post, L): boolean trains or :class:`SpikeMatrix`.
    ``dt`` in bins: 0 counts coincidences in the same bin (the closed form from counts); dt > 0
    tiles +-dt bins around each spike, clipped at the recording's ends. NaN where undefined.
    """
    if dt < 0:
        raise FcgraphError(f"dt must be >= 0 bins, got {dt}")
    be = get_backend(backend)
    src_a, src_b = as_source(pre, "pre"), as_source(post, "post")
    L = check_pair(src_a, src_b)
    out = np.empty((src_a.n_neurons, src_b.n_neurons), dtype=np.float64)
    if dt == 0:
        return sttc_from_counts(cofire(src_a, src_b, backend=be, tile=tile),
                                src_a.spike_counts(), src_b.spike_counts(), L)
    tiled = TiledSttc(src_a.rows(), dt, be)
    for j0 in range(0, src_b.n_neurons, tile):
        block = src_b.rows(j0, j0 + tile)
        out[:, j0:j0 + block.shape[0]] = tiled(block)
    return out


def pearson(pre: Spikes, post: Spikes, *, backend: str | Backend = "numpy",
            tile: int = DEFAULT_TILE) -> np.ndarray:
    """Pearson (phi) coefficient of every pair of binary trains, float64 (n_pre, n_post).

    NaN for a silent train or one that fires in every bin.
    """
    src_a, src_b = as_source(pre, "pre"), as_source(post, "post")
    L = check_pair(src_a, src_b)
    return pearson_from_counts(cofire(src_a, src_b, backend=backend, tile=tile),
                               src_a.spike_counts(), src_b.spike_counts(), L)
