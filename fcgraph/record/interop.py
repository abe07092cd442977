"""A recording's spikes for the tools neuroscientists already use: Neo (Elephant, Viziphant) and
NWB (SpikeInterface, pynwb), for all neurons or any subset.

Time: bin k of a recording (image k // T, step k % T) lasts ``bin_ms`` milliseconds, and a spike
in it is placed at the bin's centre, (k + 1/2) x ``bin_ms`` (:data:`SPIKE_AT`), so that
``floor(t / bin_ms)`` gives the bin back exactly and Elephant's STTC with ``dt = bin_ms / 2`` equals
fcgraph's (docs/interop.md). Trains run from 0 to L x ``bin_ms`` (L = T x n_images).

- :func:`select_neurons`: the neurons to export, a DataFrame (layer, idx, uid).
- :func:`spike_times`: their spike times, one float64 array (ms) per neuron.
- :func:`to_neo`: a ``neo.Block`` with one ``Segment`` (the condition): a ``neo.SpikeTrain`` per
  neuron (annotations ``layer``, ``index``, ``uid``, ``condition``) and an ``Epoch`` per image.
- :func:`to_nwb`: a ``pynwb.NWBFile``: the units table (spike times in s, ``unit_name`` = uid,
  ``layer``, ``index``, resolution = the bin) and one trial per image.
- :func:`export_spikes`: either one written to a file (a NIX file for Neo), atomically.

neo, nixio and pynwb are imported only when used (the ``interop`` extra).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from fcgraph.contract import neuron_uid
from fcgraph.errors import BadArgument, FcgraphError, choice
from fcgraph.execution import ProgressFn
from fcgraph.io import atomic_path, writing_into
from fcgraph.record.reader import Recording, open_recording
from fcgraph.spikes import unpack


class SpikeFormat(StrEnum):
    """What ``fcgraph export-spikes --format`` writes: Neo as a NIX file, or NWB (HDF5)."""

    neo = "neo"
    nwb = "nwb"


#: Default length of one bin (one step of the spiking network), in milliseconds.
DEFAULT_BIN_MS = 1.0
#: A spike of bin k sits at (k + SPIKE_AT) x bin_ms: the bin's centre.
SPIKE_AT = 0.5
#: Neurons unpacked at once (bounds the memory of one chunk to this many trains).
CHUNK_NEURONS = 1024

Neurons = Iterable[str | tuple[str, int]]


def _need(module: str) -> ModuleType:
    """Import ``module`` or say in one line which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise FcgraphError(f"exporting spikes needs {module.partition('.')[0]}: install the interop "
                           "extra (pip install 'fcgraph[interop]')") from None


def _open(recording: Recording | Path | str) -> Recording:
    return recording if isinstance(recording, Recording) else open_recording(recording)


def _check_bin_ms(bin_ms: float) -> float:
    try:
        value = float(bin_ms)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise BadArgument("--bin-ms", f"must be a positive number of milliseconds, got {bin_ms!r}")
    return value


def _parse_neuron(rec: Recording, neuron: str | tuple[str, int]) -> tuple[str, int]:
    """(layer, idx) of a uid ``RUN/LAYER/IDX``, a ``LAYER/IDX`` or a (layer, idx) pair."""
    if isinstance(neuron, tuple):
        layer, idx_text = neuron[0], str(neuron[1])
    else:
        parts = str(neuron).rsplit("/", 2)
        if len(parts) == 3 and parts[0] != rec.run_id:
            raise BadArgument("--neurons", f"{neuron!r} names run {parts[0]!r}, not this recording's "
                              f"{rec.run_id!r}")
        if len(parts) < 2:
            raise BadArgument("--neurons", f"{neuron!r} is not a neuron uid (RUN/LAYER/IDX or LAYER/IDX)")
        layer, idx_text = parts[-2], parts[-1]
    if layer not in rec.layer_names:
        raise BadArgument("--neurons", f"{neuron!r}: no layer {layer!r} in the recording; layers: "
                          f"{', '.join(rec.layer_names)}")
    n = rec.layer(layer).n_neurons
    if not idx_text.isdigit() or int(idx_text) >= n:
        raise BadArgument("--neurons", f"{neuron!r}: no neuron {idx_text} in layer {layer!r} "
                          f"(indices 0..{n - 1})")
    return layer, int(idx_text)


def select_neurons(recording: Recording | Path | str, condition: str, layers: Iterable[str] | None = None,
                   neurons: Neurons | None = None) -> pd.DataFrame:
    """The neurons to export, in layer order then index.

    Parameters
    ----------
    recording
        A :class:`Recording` or its folder.
    condition
        A recorded condition (checked here, so that a bad name fails before any work).
    layers
        Keep these layers (default: all).
    neurons
        Keep only these neurons: uids ``RUN/LAYER/IDX`` (the graph's), ``LAYER/IDX`` or
        (layer, idx) pairs; each must lie in ``layers`` when both are given. Repeats count once.

    Returns
    -------
    pandas.DataFrame
        One row per neuron: ``layer`` (str), ``idx`` (int64, channel-major), ``uid`` (str).

    Raises
    ------
    BadArgument
        An unknown condition, layer or neuron, or a neuron outside ``layers``.
    """
    rec = _open(recording)
    if condition not in rec.conditions:
        raise BadArgument("--condition", f"no condition {condition!r} in the recording; conditions: "
                          f"{', '.join(rec.conditions)}")
    chosen = rec.layer_names if layers is None else list(dict.fromkeys(layers))
    if not chosen:
        raise BadArgument("--layer", "no layers given")
    for name in chosen:
        if name not in rec.layer_names:
            raise BadArgument("--layer", f"no layer {name!r} in the recording; layers: "
                              f"{', '.join(rec.layer_names)}")
    order = {name: i for i, name in enumerate(rec.layer_names)}
    if neurons is None:
        pairs = [(name, i) for name in sorted(chosen, key=order.__getitem__)
                 for i in range(rec.layer(name).n_neurons)]
    else:
        pairs = sorted({_parse_neuron(rec, n) for n in neurons}, key=lambda p: (order[p[0]], p[1]))
        outside = [f"{layer}/{idx}" for layer, idx in pairs if layer not in chosen]
        if outside:
            raise BadArgument("--neurons", f"{outside[0]} is not in the chosen layers "
                              f"({', '.join(chosen)})")
        if not pairs:
            raise BadArgument("--neurons", "no neurons given")
    return pd.DataFrame({"layer": pd.Series([p[0] for p in pairs], dtype=object),
                         "idx": np.array([p[1] for p in pairs], dtype=np.int64),
                         "uid": [neuron_uid(rec.run_id, layer, idx) for layer, idx in pairs]})


def spike_bins(recording: Recording, condition: str, selection: pd.DataFrame,
               progress: ProgressFn | None = None) -> Iterator[np.ndarray]:
    """The bins (int64, ascending) in which each neuron of ``selection`` (as :func:`select_neurons`
    returns it: grouped by layer) spiked, in its order; read :data:`CHUNK_NEURONS` trains at a
    time from the bit-packed files."""
    total, done = len(selection), 0
    for layer, rows in selection.groupby("layer", sort=False)["idx"]:
        packed = recording.packed(condition, str(layer))
        idx = rows.to_numpy()
        for start in range(0, idx.size, CHUNK_NEURONS):
            part = idx[start:start + CHUNK_NEURONS]
            trains = unpack(np.ascontiguousarray(packed.packed[part]), packed.L)
            row, col = np.nonzero(trains)
            yield from np.split(col.astype(np.int64), np.searchsorted(row, np.arange(1, part.size)))
            done += part.size
            if progress:
                progress("neurons", done, total)


def _ms(bins: np.ndarray, bin_ms: float) -> np.ndarray:
    """Spike times in ms, float64, of spikes in ``bins``: the bins' centres."""
    return (bins + SPIKE_AT) * bin_ms


def spike_times(recording: Recording | Path | str, condition: str, layers: Iterable[str] | None = None,
                neurons: Neurons | None = None, bin_ms: float = DEFAULT_BIN_MS) -> dict[str, np.ndarray]:
    """Spike times in ms of the selected neurons (see :func:`select_neurons`): uid -> float64
    (n_spikes,), ascending, a spike of bin k at (k + 1/2) x ``bin_ms``."""
    rec, bin_ms = _open(recording), _check_bin_ms(bin_ms)
    selection = select_neurons(rec, condition, layers, neurons)
    return {uid: _ms(bins, bin_ms)
            for uid, bins in zip(selection["uid"], spike_bins(rec, condition, selection), strict=True)}


@dataclass(frozen=True)
class _Export:
    """What both formats carry: the recording, the selection and the time base."""

    rec: Recording
    condition: str
    selection: pd.DataFrame
    bin_ms: float

    @classmethod
    def of(cls, recording: Recording | Path | str, condition: str | None, layers: Iterable[str] | None,
           neurons: Neurons | None, bin_ms: float) -> _Export:
        rec = _open(recording)
        condition = rec.conditions[0] if condition is None else condition
        bin_ms = _check_bin_ms(bin_ms)
        return cls(rec, condition, select_neurons(rec, condition, layers, neurons), bin_ms)

    @property
    def t_stop_ms(self) -> float:
        return self.rec.L * self.bin_ms

    def trains(self, progress: ProgressFn | None) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
        """(properties, spike times in ms) per neuron."""
        layers = {la.name: la for la in self.rec.layers}
        bins = spike_bins(self.rec, self.condition, self.selection, progress)
        for layer, idx, uid, b in zip(self.selection["layer"], self.selection["idx"],
                                      self.selection["uid"], bins, strict=True):
            channel, y, x = (int(v) for v in layers[layer].position(int(idx)))
            yield ({"layer": str(layer), "index": int(idx), "uid": str(uid), "channel": channel,
                    "y": y, "x": x}, _ms(b, self.bin_ms))

    def description(self) -> str:
        return (f"fcgraph recording {self.rec.run_id!r}, condition {self.condition!r}: "
                f"{len(self.selection)} neurons, T = {self.rec.T} steps per image, "
                f"{self.rec.n_images} images, {self.bin_ms:g} ms per step")


def to_neo(recording: Recording | Path | str, condition: str | None = None,
           layers: Iterable[str] | None = None, neurons: Neurons | None = None,
           bin_ms: float = DEFAULT_BIN_MS, *, progress: ProgressFn | None = None) -> Any:
    """The selected neurons' spikes as a ``neo.Block``.

    Parameters
    ----------
    recording
        A :class:`Recording` or its folder.
    condition
        The condition to export (default: the recording's first).
    layers, neurons
        The subset, as in :func:`select_neurons` (default: every neuron).
    bin_ms
        Length of a bin (one step) in ms.
    progress
        ``progress(task, done, total)`` as neurons are read.

    Returns
    -------
    neo.Block
        Annotated with ``run_id``, ``T``, ``n_images``, ``bin_ms``; ``block.segments[0]`` (named
        after the condition) holds one ``neo.SpikeTrain`` per neuron, in ms from 0 to L x bin_ms,
        named by uid and annotated ``layer``, ``index``, ``uid``, ``condition``, ``channel``, ``y``,
        ``x``, and an ``Epoch`` ``images`` (one per image, labelled by class, array annotations
        ``label`` and ``prediction``).
    """
    neo, pq = _need("neo"), _need("quantities")
    ex = _Export.of(recording, condition, layers, neurons, bin_ms)
    block = neo.Block(name=ex.rec.run_id, description=ex.description(), run_id=ex.rec.run_id,
                      T=ex.rec.T, n_images=ex.rec.n_images, bin_ms=ex.bin_ms)
    seg = neo.Segment(name=ex.condition, condition=ex.condition)
    block.segments.append(seg)
    for props, times in ex.trains(progress):
        train = neo.SpikeTrain(times, units=pq.ms, t_start=0.0 * pq.ms, t_stop=ex.t_stop_ms * pq.ms,
                               name=props["uid"], condition=ex.condition, **props)
        train.segment = seg
        seg.spiketrains.append(train)
    image_ms = ex.rec.T * ex.bin_ms
    labels = ex.rec.labels
    seg.epochs.append(neo.Epoch(
        times=np.arange(ex.rec.n_images) * image_ms * pq.ms,
        durations=np.full(ex.rec.n_images, image_ms) * pq.ms, labels=labels.astype(str),
        name="images", array_annotations={"label": labels,
                                          "prediction": ex.rec.predictions(ex.condition)}))
    seg.epochs[0].segment = seg
    return block


def to_nwb(recording: Recording | Path | str, condition: str | None = None,
           layers: Iterable[str] | None = None, neurons: Neurons | None = None,
           bin_ms: float = DEFAULT_BIN_MS, *, progress: ProgressFn | None = None) -> Any:
    """The selected neurons' spikes as a ``pynwb.NWBFile`` (in memory; :func:`export_spikes`
    writes it).

    Parameters
    ----------
    recording, condition, layers, neurons, bin_ms, progress
        As in :func:`to_neo`.

    Returns
    -------
    pynwb.NWBFile
        Its units table has one row per neuron: ``spike_times`` in seconds (NWB's unit),
        ``unit_name`` (the uid, SpikeInterface's unit id), ``layer``, ``index``, ``channel``,
        ``y``, ``x``; its ``resolution`` is the bin in seconds (SpikeInterface's sampling
        frequency is 1 / resolution). One trial per image (``label``, ``prediction``).
    """
    pynwb = _need("pynwb")
    ex = _Export.of(recording, condition, layers, neurons, bin_ms)
    created = ex.rec.manifest.provenance.get("created")
    try:
        start = datetime.fromisoformat(created) if isinstance(created, str) else None
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        start = datetime.fromtimestamp((ex.rec.path / "manifest.json").stat().st_mtime, UTC)
    nwb = pynwb.NWBFile(session_description=ex.description(),
                        identifier=f"fcgraph/{ex.rec.run_id}/{ex.condition}",
                        session_start_time=start, source_script="fcgraph export-spikes",
                        source_script_file_name="fcgraph")
    columns = {"unit_name": "the neuron's uid (RUN/LAYER/IDX)", "layer": "spiking layer",
               "index": "neuron index in its layer (channel-major)", "channel": "channel",
               "y": "row (0 for a dense layer)", "x": "column (0 for a dense layer)"}
    for name, text in columns.items():
        nwb.add_unit_column(name, text)
    nwb.units.resolution = ex.bin_ms / 1000.0
    for props, times in ex.trains(progress):
        nwb.add_unit(spike_times=times / 1000.0, unit_name=props["uid"],
                     **{k: props[k] for k in columns if k != "unit_name"})
    nwb.add_trial_column("label", "the image's class")
    nwb.add_trial_column("prediction", f"the model's class under {ex.condition}")
    image_s = ex.rec.T * ex.bin_ms / 1000.0
    for k, (label, pred) in enumerate(zip(ex.rec.labels, ex.rec.predictions(ex.condition),
                                          strict=True)):
        nwb.add_trial(start_time=k * image_s, stop_time=(k + 1) * image_s, label=int(label),
                      prediction=int(pred))
    return nwb


@dataclass(frozen=True)
class SpikeExport:
    """What :func:`export_spikes` wrote: the file, its format and condition, neurons and spikes."""

    path: Path
    fmt: SpikeFormat
    condition: str
    n_neurons: int
    n_spikes: int


def export_spikes(recording: Recording | Path | str, fmt: SpikeFormat | str, out: Path | str, *,
                  condition: str | None = None, layers: Iterable[str] | None = None,
                  neurons: Neurons | None = None, bin_ms: float = DEFAULT_BIN_MS,
                  progress: ProgressFn | None = None) -> SpikeExport:
    """Write the selected neurons' spikes to ``out``: ``fmt`` "neo" (:func:`to_neo`, a NIX
    file, read with ``neo.io.NixIO``) or "nwb" (:func:`to_nwb`, read with pynwb or SpikeInterface).

    The file appears whole or not at all (written beside ``out``, then renamed); an existing
    ``out`` is replaced. Other parameters as in :func:`to_neo`.

    Returns
    -------
    SpikeExport
        The path, format, condition, and numbers of neurons and spikes written.
    """
    fmt = SpikeFormat(choice(str(fmt), [f.value for f in SpikeFormat], "--format", "format"))
    out = Path(out)
    if out.is_dir():
        raise BadArgument("--out", f"{out} is a folder; give a file name")
    rec = _open(recording)
    condition = rec.conditions[0] if condition is None else condition
    build = to_neo if fmt is SpikeFormat.neo else to_nwb
    if fmt is SpikeFormat.neo:
        _need("nixio")
    obj = build(rec, condition, layers, neurons, bin_ms, progress=progress)
    if progress:
        progress(f"writing {fmt.value}", 0, 1)
    with writing_into(out.parent), atomic_path(out) as tmp:
        if fmt is SpikeFormat.neo:
            with _need("neo.io").NixIO(str(tmp), mode="ow") as io:
                io.write_block(obj)
            trains = obj.segments[0].spiketrains
            n_neurons, n_spikes = len(trains), sum(t.size for t in trains)
        else:
            with warnings.catch_warnings():  # the temp file's name does not end in .nwb
                warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")
                with _need("pynwb").NWBHDF5IO(str(tmp), "w") as io:
                    io.write(obj)
            n_neurons = len(obj.units)
            n_spikes = len(obj.units["spike_times"].target.data)
    if progress:
        progress(f"writing {fmt.value}", 1, 1)
    return SpikeExport(out, fmt, condition, n_neurons, n_spikes)
