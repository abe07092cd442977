"""Read a recording folder: :func:`open_recording` -> :class:`Recording`.

Sizes are checked when the folder is opened and every file's SHA-256 (from the manifest) the
first time it is read (``verify=False`` skips the hashes); a missing, truncated or corrupt file
raises :class:`FcgraphError` naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from fcgraph.contract import LayerInfo, RunManifest, read_manifest
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.io import sha256_file
from fcgraph.mirror import ensure_local
from fcgraph.record.layout import RECORDING_FORMAT
from fcgraph.run_folder import local_path
from fcgraph.spikes import SpikeMatrix


class Recording:
    """A recorded run folder: layers, conditions, labels and spikes.

    Attributes:
        path: the folder.
        manifest: the parsed :class:`fcgraph.contract.RunManifest`.
        layers: spiking layers in forward order (name, order, shape, feeds_from).
        conditions: condition names, in recording order.
        T: steps per image; ``n_images``: images (presentations, with trials); ``L`` = T x
        n_images bins.
        trials: repeats of the same images (``fcgraph record --trials``), trial-major: image i
        of trial r is presentation r x (n_images / trials) + i; 1 for a plain recording.
    """

    def __init__(self, path: Path, *, verify: bool = True) -> None:
        self.path = Path(path)
        self.manifest: RunManifest = read_manifest(self.path)
        rec = self.manifest.extra.get("recording")
        where = self.path / "manifest.json"
        if not isinstance(rec, dict) or rec.get("format") != RECORDING_FORMAT:
            raise FcgraphError(f"{where}: no 'recording' section (not written by fcgraph record)")
        self._rec: dict[str, Any] = rec
        self.verify = verify
        self._verified: set[Path] = set()
        self.layers: list[LayerInfo] = list(self.manifest.layers)
        self.conditions: list[str] = [c.name for c in self.manifest.conditions]
        if not all(isinstance(v, int) and v >= 1 for v in (self.manifest.T, self.manifest.n_images)):
            raise FcgraphError(f"{where}: T and n_images must be positive integers")
        self.T: int = self.manifest.T
        self.n_images: int = self.manifest.n_images
        self.L = self.T * self.n_images
        self.trials: int = int(rec.get("trials", 1))
        if self.trials < 1 or self.n_images % self.trials:
            raise FcgraphError(f"{where}: {self.n_images} presentations are not {self.trials} "
                               "whole trials")
        for name in self.conditions:
            if not isinstance(rec.get("conditions"), dict) or name not in rec["conditions"]:
                raise FcgraphError(f"{where}: condition {name!r} has no files listed")
            for layer in self.layers:
                self._file(self._layer_entry(name, layer.name), read=False)
        self._labels: np.ndarray | None = None

    def __repr__(self) -> str:
        return (f"Recording({str(self.path)!r}, {len(self.layers)} layers, conditions={self.conditions}, "
                f"T={self.T}, n_images={self.n_images})")

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    def layer(self, name: str) -> LayerInfo:
        """The :class:`LayerInfo` called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise FcgraphError(f"no layer {name!r} in {self.path}; layers: {', '.join(self.layer_names)}")

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def condition_info(self, condition: str) -> dict[str, Any]:
        """The manifest's entry for ``condition``: accuracy, details, files, per-layer rates."""
        if condition not in self.conditions:
            raise FcgraphError(f"no condition {condition!r} in {self.path}; conditions: "
                               f"{', '.join(self.conditions)}")
        return self._rec["conditions"][condition]

    def accuracy(self, condition: str) -> float:
        return float(self.condition_info(condition)["accuracy"])

    def firing_rate(self, condition: str, layer: str) -> float:
        """Spikes per neuron per bin, averaged over the layer."""
        self.layer(layer)
        return float(self.condition_info(condition)["layers"][layer]["firing_rate"])

    def attack_success_rate(self, condition: str) -> float | None:
        """Share of clean-correct images misclassified under an attack condition (None otherwise)."""
        return self.condition_info(condition).get("attack_success_rate")

    @property
    def labels(self) -> np.ndarray:
        """int64 (n_images,): the class of each recorded image."""
        if self._labels is None:
            self._labels = self._load_array(self._rec["labels"])
        return self._labels

    def predictions(self, condition: str) -> np.ndarray:
        """int64 (n_images,): the model's class for each image under ``condition``."""
        return self._load_array(self.condition_info(condition)["predictions"])

    def packed(self, condition: str, layer: str) -> SpikeMatrix:
        """Bit-packed spikes (n_neurons, ceil(L / 8)) uint8, memory-mapped read-only."""
        info = self.layer(layer)
        path = self._file(self._layer_entry(condition, layer))
        data = np.memmap(path, dtype=np.uint8, mode="r", shape=(info.n_neurons, -(-self.L // 8)))
        return SpikeMatrix(data, self.L)

    def spikes(self, condition: str, layer: str) -> np.ndarray:
        """Boolean (n_neurons, T x n_images) spikes: row k is neuron k (channel-major for conv
        layers), column image*T + step."""
        return self.packed(condition, layer).to_bool()

    def spike_file(self, condition: str, layer: str) -> Path:
        """Path of the ``.bits`` file of ``condition`` / ``layer``."""
        return self.path / self._layer_entry(condition, layer)["path"]

    def verify_all(self, conditions: Iterable[str] | None = None) -> None:
        """Hash now the labels and every file of ``conditions`` (default: all), so that a
        command refuses a damaged recording before it writes anything; :class:`FcgraphError`
        names the first bad file. Files already hashed are not read again."""
        self._check_hash(self._file(self._rec["labels"]), self._rec["labels"])
        for condition in self.conditions if conditions is None else conditions:
            entry = self.condition_info(condition)
            self._check_hash(self._file(entry["predictions"]), entry["predictions"])
            for layer in self.layers:
                item = self._layer_entry(condition, layer.name)
                self._check_hash(self._file(item), item)

    # -- internals -----------------------------------------------------------------------------

    def _layer_entry(self, condition: str, layer: str) -> dict[str, Any]:
        self.layer(layer)
        info = self.condition_info(condition)
        files = info.get("layers") if isinstance(info, dict) else None
        entry = files.get(layer) if isinstance(files, dict) else None
        if not isinstance(entry, dict):
            raise FcgraphError(f"{self.path / 'manifest.json'}: no file for {condition}/{layer}")
        return entry

    def _file(self, entry: dict[str, Any], *, read: bool = True) -> Path:
        """The entry's path, checked to exist with the recorded size (and its hash when ``read``)."""
        try:
            path, expected = self.path / str(entry["path"]), int(entry["bytes"])
            str(entry["sha256"])
        except (KeyError, TypeError, ValueError):
            raise FcgraphError(f"{self.path / 'manifest.json'}: a file entry lacks its path, bytes "
                               "or sha256") from None
        ensure_local(path)  # a run folder at a URL: fetched on first use
        if not path.exists():
            raise FcgraphError(f"{path}: missing")
        size = path.stat().st_size
        if size != expected:
            raise FcgraphError(f"{path}: truncated or damaged ({size} bytes, expected {entry['bytes']})")
        if read and self.verify:
            self._check_hash(path, entry)
        return path

    def _check_hash(self, path: Path, entry: dict[str, Any]) -> None:
        if path in self._verified:
            return
        if sha256_file(path) != entry["sha256"]:
            raise FcgraphError(f"{path}: corrupt (SHA-256 differs from the one in "
                               f"{self.path / 'manifest.json'})")
        self._verified.add(path)

    def _load_array(self, entry: dict[str, Any]) -> np.ndarray:
        path = self._file(entry)
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise FcgraphError(f"{path}: cannot be read ({exc})") from None
        if arr.shape != (self.n_images,):
            raise FcgraphError(f"{path}: shape {arr.shape}, expected ({self.n_images},)")
        return arr


def open_recording(path: Path | str, *, verify: bool = True) -> Recording:
    """Open the recording folder ``path`` (see :mod:`fcgraph.record.layout` for its files)."""
    path = local_path(path)
    if not path.is_dir():
        raise BadArgument(str(path), "recording folder does not exist")
    return Recording(path, verify=verify)
