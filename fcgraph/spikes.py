"""Spike matrices, the format every stage shares: boolean (n_neurons, L) trains, plain or
bit-packed along time (a base module: it imports nothing of fcgraph but its errors).

L = T * n_images bins; image k occupies bins k*T .. k*T+T-1. Every function of
:mod:`fcgraph.fc` takes either a NumPy array of shape (n_neurons, L) (bool, or numbers where
nonzero means a spike) or a :class:`SpikeMatrix` holding the bit-packed form that the
recording stage writes: ``numpy.packbits(x, axis=1, bitorder="little")``, shape
(n_neurons, ceil(L / 8)), plus L.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fcgraph.errors import FcgraphError

#: The most bins one float32 product of 0/1 trains may sum and stay exact (integers up to 2**24
#: are exact in float32): the CPU and GPU products split longer trains into such pieces.
F32_EXACT_BINS = 1 << 24


def unpack(packed: np.ndarray, L: int) -> np.ndarray:
    """Boolean (n_neurons, L) trains from little-endian bit-packed rows (n_neurons, ceil(L/8))."""
    packed = np.asarray(packed)
    if packed.dtype != np.uint8 or packed.ndim != 2:
        raise FcgraphError(f"packed spikes must be a 2-D uint8 array, got {packed.dtype} "
                           f"with shape {packed.shape}")
    if packed.shape[1] != -(-L // 8):
        raise FcgraphError(f"packed spikes have {packed.shape[1]} bytes per row; L = {L} bins "
                           f"needs {-(-L // 8)}")
    return np.unpackbits(packed, axis=1, count=L, bitorder="little").view(bool)


def pack(spikes: np.ndarray) -> np.ndarray:
    """Little-endian bit-packed rows (n_neurons, ceil(L/8)) of boolean (n_neurons, L) trains."""
    return np.packbits(np.asarray(spikes, dtype=bool), axis=1, bitorder="little")


@dataclass(frozen=True)
class SpikeMatrix:
    """Bit-packed spike trains: ``packed`` (n_neurons, ceil(L/8)) uint8, little bit order."""

    packed: np.ndarray
    L: int

    def __post_init__(self) -> None:
        if self.packed.dtype != np.uint8 or self.packed.ndim != 2:
            raise FcgraphError("SpikeMatrix.packed must be a 2-D uint8 array")
        if self.packed.shape[1] != -(-self.L // 8):
            raise FcgraphError(f"SpikeMatrix: {self.packed.shape[1]} bytes per row do not hold "
                               f"L = {self.L} bins")

    @classmethod
    def from_bool(cls, spikes: np.ndarray) -> SpikeMatrix:
        """Pack boolean (n_neurons, L) trains."""
        spikes = np.asarray(spikes)
        return cls(pack(spikes), int(spikes.shape[1]))

    @property
    def n_neurons(self) -> int:
        return int(self.packed.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_neurons, self.L)

    def rows(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Boolean trains of neurons ``start .. stop-1``, shape (stop - start, L)."""
        return unpack(self.packed[start:stop], self.L)

    def to_bool(self) -> np.ndarray:
        """All trains as a boolean (n_neurons, L) array."""
        return self.rows()

    def spike_counts(self) -> np.ndarray:
        """Spikes per neuron, int64 (n_neurons,). Padding bits past L are zero by construction."""
        return np.bitwise_count(self.packed).sum(axis=1, dtype=np.int64)


class SpikeSource:
    """Uniform read access to plain or packed trains: rows as bool, per-neuron spike counts."""

    def __init__(self, spikes: Spikes, name: str = "spikes") -> None:
        if isinstance(spikes, SpikeMatrix):
            self._packed: SpikeMatrix | None = spikes
            self._dense: np.ndarray | None = None
            self.n_neurons, self.L = spikes.shape
        else:
            arr = np.asarray(spikes)
            if arr.ndim == 1:
                arr = arr[None, :]
            if arr.ndim != 2:
                raise FcgraphError(f"{name}: expected (n_neurons, L) trains, got shape {arr.shape}")
            self._packed = None
            self._dense = arr if arr.dtype == bool else arr != 0
            self.n_neurons, self.L = (int(d) for d in arr.shape)
        if self.L < 1:
            raise FcgraphError(f"{name}: trains have no bins")

    def rows(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Boolean (stop - start, L) trains of neurons start .. stop-1 (a view when plain)."""
        if self._dense is not None:
            return self._dense[start:stop]
        assert self._packed is not None
        return self._packed.rows(start, stop)

    def spike_counts(self) -> np.ndarray:
        """Spikes per neuron, int64 (n_neurons,)."""
        if self._dense is not None:
            return np.count_nonzero(self._dense, axis=1).astype(np.int64)
        assert self._packed is not None
        return self._packed.spike_counts()


#: What every fc function accepts as trains.
Spikes = np.ndarray | SpikeMatrix | SpikeSource


def as_source(spikes: Spikes, name: str = "spikes") -> SpikeSource:
    """Wrap trains (array, :class:`SpikeMatrix` or an existing source) as a :class:`SpikeSource`."""
    return spikes if isinstance(spikes, SpikeSource) else SpikeSource(spikes, name)


def check_pair(pre: SpikeSource, post: SpikeSource) -> int:
    """The common number of bins L of two layers' trains; :class:`FcgraphError` if they differ."""
    if pre.L != post.L:
        raise FcgraphError(f"pre and post trains differ in length: {pre.L} vs {post.L} bins")
    return pre.L


def permute_images(spikes: Spikes, order: np.ndarray, T: int) -> np.ndarray:
    """Trains with whole T-bin image blocks reordered: new image k is old image ``order[k]``.

    Returns a boolean (n_neurons, L) array; L must be a multiple of T.
    """
    src = as_source(spikes)
    if src.L % T:
        raise FcgraphError(f"L = {src.L} bins is not a whole number of images of T = {T}")
    M = src.L // T
    order = np.asarray(order)
    if sorted(order.tolist()) != list(range(M)):
        raise FcgraphError("order must be a permutation of the image indices")
    x = src.rows().reshape(src.n_neurons, M, T)
    return x[:, order, :].reshape(src.n_neurons, src.L)
