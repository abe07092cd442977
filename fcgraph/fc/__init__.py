"""Functional connectivity between two spiking layers: counts, measures, shift nulls, edges.

Trains are boolean (n_neurons, L) arrays, L = T x n_images bins (image k occupies bins
k*T .. k*T+T-1), or :class:`SpikeMatrix` (bit-packed with ``numpy.packbits(x, axis=1,
bitorder="little")``). Importable with NumPy alone; torch and CuPy are optional backends
(:mod:`fcgraph.fc.backend`), pandas/pyarrow are needed only for the edge table.

- :func:`cofire`: exact cofiring counts, int64 (n_pre, n_post).
- :func:`sttc`, :func:`pearson`: pairwise measures, float64 (n_pre, n_post).
- :func:`shift_null`: mean and sample SD over circular shifts of the whole post layer.
- :func:`exact_null`: exact mean and SD of the count over ALL bin or whole-image shifts.
- :func:`significant_edges`: the edge table and a report of every pair
  (:class:`FeatureRelay`: the exact null's features of a layer shared by consecutive pairs).
- :func:`calibrate`: the false-edge rate of a rule on the image-reordered negative control.
- :func:`control_threshold`: the z threshold at which that control's false-edge rate is the
  nominal one (fc's default rule, :mod:`fcgraph.fc.threshold`).
- :func:`compute_run`: a whole recording (every condition and layer pair) into the run
  folder's edge and neuron tables, resumable (:mod:`fcgraph.fc.run`).
"""

from fcgraph.fc.backend import Backend, get_backend
from fcgraph.fc.calibration import calibrate
from fcgraph.fc.counts import cofire, dilate, shifted_cofire
from fcgraph.fc.edges import edge_table, edges_to_arrow, significant_edges, top_k_mask
from fcgraph.fc.exact import exact_null
from fcgraph.fc.feature_relay import FeatureRelay
from fcgraph.fc.measures import pearson, pearson_from_counts, sttc, sttc_from_counts
from fcgraph.fc.run import compute_run
from fcgraph.fc.settings import FcParams
from fcgraph.fc.shifts import draw_shifts, shift_null
from fcgraph.fc.stats import bh_qvalues, normal_upper_tail
from fcgraph.fc.threshold import control_threshold
from fcgraph.spikes import SpikeMatrix, pack, permute_images, unpack

__all__ = [
    "Backend",
    "FcParams",
    "FeatureRelay",
    "SpikeMatrix",
    "bh_qvalues",
    "calibrate",
    "cofire",
    "compute_run",
    "control_threshold",
    "dilate",
    "draw_shifts",
    "edge_table",
    "edges_to_arrow",
    "exact_null",
    "get_backend",
    "normal_upper_tail",
    "pack",
    "pearson",
    "pearson_from_counts",
    "permute_images",
    "shift_null",
    "shifted_cofire",
    "significant_edges",
    "sttc",
    "sttc_from_counts",
    "top_k_mask",
    "unpack",
]
