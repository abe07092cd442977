"""Chunked, resumable writers for spike matrices and per-image arrays (bounded memory).

A spike file is preallocated at its final size (rows of ``row_bytes`` bytes, its disk blocks
reserved, so a full disk is an error at the start, not a SIGBUS in a mapped write) and image chunks
are packed and copied into their byte columns through a short-lived memory map, so the
process never maps or holds the whole file. :class:`BufferedSpikeWriters` groups batches into
larger writes. Writes land in the page cache: they survive a killed process, and
:meth:`SpikeFileWriter.finish` fsyncs before the file is renamed to its final name.
"""

from __future__ import annotations

import os
import sys
from math import gcd
from pathlib import Path

import numpy as np
import torch

from fcgraph.io import preallocate, sha256_file
from fcgraph.record.layout import partial


def pack_chunk(spikes: torch.Tensor) -> np.ndarray:
    """Spikes [T, B, *shape] (0/1 floats or bools) -> packed rows (n_neurons, ceil(B * T / 8)) uint8.

    Row k is neuron k (the flattened ``shape``, channel-major); its bits are image-major,
    step-minor (bin b*T + t), little bit order: the same bytes as
    ``numpy.packbits(trains, axis=1, bitorder="little")`` of the (n_neurons, B*T) trains.

    Fast path: images are taken in groups of g = 8 / gcd(T, 8), whose g*T bits fill whole bytes;
    each group's bits are accumulated into one integer per neuron with shifts, then its
    little-endian bytes are transposed to rows, so only 1/T of the data is ever transposed.
    """
    T, B = int(spikes.shape[0]), int(spikes.shape[1])
    s = spikes.reshape(T, B, -1)
    n = int(s.shape[2])
    g = 8 // gcd(T, 8)
    bits = g * T
    if bits > 64 or sys.byteorder != "little":
        return _pack_generic(s)
    dtype, width = next((d, w) for d, w in _ACCUMULATORS if bits <= 8 * w)
    groups = -(-B // g)
    if groups * g != B:
        s = torch.cat([s, s.new_zeros((T, groups * g - B, n))], dim=1)
    s = s.reshape(T, groups, g, n)
    acc = torch.zeros((groups, n), dtype=dtype)
    for i in range(g):
        for t in range(T):
            acc.bitwise_or_(s[t, :, i, :].to(dtype).bitwise_left_shift_(i * T + t))
    as_bytes = acc.view(torch.uint8).reshape(groups, n, width)[:, :, : bits // 8]
    rows = as_bytes.permute(1, 0, 2).reshape(n, groups * (bits // 8))
    return rows[:, : -(-(B * T) // 8)].contiguous().numpy()


_ACCUMULATORS = ((torch.uint8, 1), (torch.int16, 2), (torch.int32, 4), (torch.int64, 8))


def _pack_generic(s: torch.Tensor) -> np.ndarray:
    """Reference packing of [T, B, n] spikes: transpose to (n, B*T) booleans, numpy.packbits."""
    T, B, n = (int(d) for d in s.shape)
    rows = (s != 0).permute(2, 1, 0).contiguous().numpy().reshape(n, B * T)
    return np.packbits(rows, axis=1, bitorder="little")


def spike_count(packed: np.ndarray) -> int:
    """Number of spikes (set bits) in packed rows."""
    return int(np.bitwise_count(packed).sum(dtype=np.int64))


class SpikeFileWriter:
    """Fill ``path.partial``, an (n_neurons, row_bytes) uint8 file, chunk by chunk; rename when done."""

    def __init__(self, path: Path, n_neurons: int, row_bytes: int) -> None:
        self.path = Path(path)
        self.tmp = partial(self.path)
        self.shape = (int(n_neurons), int(row_bytes))
        self.tmp.parent.mkdir(parents=True, exist_ok=True)
        preallocate(self.tmp, self.shape[0] * self.shape[1], keep=True)  # a resumed file is kept

    def write(self, byte_offset: int, packed: np.ndarray, row: int = 0) -> None:
        """Copy ``packed`` (r, w) into byte columns ``byte_offset .. byte_offset + w`` of rows
        ``row .. row + r`` (by default every row)."""
        mm = np.memmap(self.tmp, dtype=np.uint8, mode="r+", shape=self.shape)
        try:
            mm[row:row + packed.shape[0], byte_offset:byte_offset + packed.shape[1]] = packed
        finally:
            del mm

    def finish(self, checksum: bool = True) -> str:
        """fsync, rename to the final name, and return the file's SHA-256 (``""`` without
        ``checksum``)."""
        return _finish(self.tmp, self.path, checksum)


class BufferedSpikeWriters:
    """Every layer's packed batches, held until ``flush_bytes`` accumulate, then written together.

    Fewer, larger writes touch each file's pages fewer times; memory stays bounded by
    ``flush_bytes`` (plus one batch), whatever the number of images. After :meth:`flush`, every
    image before :attr:`flushed` is in the files: the point a killed recording resumes from.
    """

    def __init__(self, writers: dict[str, SpikeFileWriter], T: int, start_image: int,
                 flush_bytes: int) -> None:
        self.writers = writers
        self.T = int(T)
        self.flushed = int(start_image)
        self.flush_bytes = int(flush_bytes)
        self._pending: dict[str, list[np.ndarray]] = {name: [] for name in writers}
        self._pending_images = 0
        self._pending_bytes = 0

    def add_batch(self, packed: dict[str, np.ndarray], n_images: int) -> bool:
        """Hold one batch (layer -> packed rows of ``n_images`` images); True when a flush is due."""
        for name, rows in packed.items():
            self._pending[name].append(rows)
            self._pending_bytes += rows.nbytes
        self._pending_images += int(n_images)
        return self._pending_bytes >= self.flush_bytes

    def flush(self) -> int:
        """Write what is held; returns the number of images now in the files."""
        if self._pending_images:
            offset = self.flushed * self.T // 8
            for name, parts in self._pending.items():
                rows = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
                self.writers[name].write(offset, rows)
                parts.clear()
            self.flushed += self._pending_images
            self._pending_images = self._pending_bytes = 0
        return self.flushed


class ArrayFileWriter:
    """An int64 ``.npy`` array of length n, filled in chunks at ``path.partial``, renamed when done."""

    def __init__(self, path: Path, n: int) -> None:
        self.path = Path(path)
        self.tmp = partial(self.path)
        self.n = int(n)
        self.tmp.parent.mkdir(parents=True, exist_ok=True)
        if not self._usable():
            arr = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=np.int64, shape=(self.n,))
            preallocate(self.tmp, self.tmp.stat().st_size, keep=True)  # no SIGBUS on a full disk
            arr[:] = -1
            arr.flush()
            del arr

    def _usable(self) -> bool:
        if not self.tmp.exists():
            return False
        try:
            arr = np.load(self.tmp, mmap_mode="r")
        except (ValueError, OSError):
            return False
        ok = arr.dtype == np.int64 and arr.shape == (self.n,)
        del arr
        return ok

    def write(self, start: int, values: np.ndarray) -> None:
        arr = np.load(self.tmp, mmap_mode="r+")
        try:
            arr[start:start + len(values)] = values
        finally:
            del arr

    def finish(self, checksum: bool = True) -> str:
        """As :meth:`SpikeFileWriter.finish`."""
        return _finish(self.tmp, self.path, checksum)


def _finish(tmp: Path, path: Path, checksum: bool) -> str:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return sha256_file(path) if checksum else ""
