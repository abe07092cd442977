"""The recording folder: a run folder (``fcgraph.contract``) plus spike files.

::

    REC/
      manifest.json                   the run manifest (contract.py) with provenance and a
                                      top-level "recording" section (files, checksums,
                                      accuracy, firing rates, attack success)
      labels.npy                      int64 (n_images,): the label of each recorded image
      spikes/<slug>/<layer>.bits      one file per condition and spiking layer (below)
      spikes/<slug>/predictions.npy   int64 (n_images,): the model's class under the condition
      .record/plan.json               the settings the recording was started with
      .record/<slug>.json             per-condition progress: images done, running counts
      .record/.parts/<slug>/          chunks recorded on a Dask cluster, until the condition's
                                      files are assembled (fcgraph.record.distributed)

``<slug>`` is ``contract.condition_slug(condition)`` (``uniform:0.1`` -> ``uniform_0.1``).

A ``.bits`` file is raw bytes, no header: the (n_neurons, L) boolean spike matrix, L = T x
n_images bins, each row bit-packed with ``numpy.packbits(row, bitorder="little")``, so the file
is a C-ordered uint8 array of shape (n_neurons, ceil(L / 8)) (``numpy.memmap`` reads it as is,
and ``fcgraph.spikes.SpikeMatrix`` wraps it). Row k is neuron k: for a conv layer of shape
(C, H, W), k = c*H*W + y*W + x (channel-major); for a dense layer, k is the unit. Column b is
bin b = image*T + step: the T steps of image 0, then of image 1, and so on. Bits past L in the
last byte are zero.

While a condition is being recorded its files are ``<name>.partial``, filled in image chunks
(each chunk a whole number of bytes per row) and renamed to their final names once complete
and checksummed; so a file with its final name is always complete.
"""

from __future__ import annotations

from pathlib import Path

#: The ``format`` of the manifest's "recording" section.
RECORDING_FORMAT = "fcgraph.spikes"

PARTIAL = ".partial"
#: Images per chunk (one Dask task) when recording on a cluster (rounded up to whole batches).
CHUNK_IMAGES = 1024


def partial(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL)


def row_bytes(T: int, n_images: int) -> int:
    """Bytes per neuron row: ceil(T * n_images / 8)."""
    return -(-(T * n_images) // 8)


def chunk_multiple(T: int) -> int:
    """Images per chunk must be a multiple of this for a chunk to fill whole bytes of every row."""
    from math import gcd

    return 8 // gcd(T, 8)
