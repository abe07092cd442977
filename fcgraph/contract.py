"""The file contract between stages: a run folder's manifest, neuron table and edge tables.

A run folder (written by ``record`` and ``fc``, read by ``analysis`` and ``graph``)::

    RUN/
      manifest.json            run_id, T, n_images, layers, conditions, fc parameters, provenance
      fc/neurons.parquet       one row per neuron (and condition): NEURON_COLUMNS
      fc/edges/<slug>.parquet  one table per condition, one row per significant pair: EDGE_COLUMNS

``manifest.json``::

    {"format": "fcgraph.run", "format_version": 1, "run_id": "r1", "T": 8, "n_images": 1797,
     "layers": [{"name": "sn1", "order": 0, "shape": [8, 32, 32], "feeds_from": []}, ...],
     "conditions": [{"name": "clean"}, {"name": "uniform:0.1"}, ...],
     "fc": {"parameters": {"measure": "sttc", "null": "exact", "z": 3.0, ...},
            "neurons": "fc/neurons.parquet",
            "edges": {"clean": "fc/edges/clean.parquet", ...}},
     "provenance": {...}}

Neuron ``idx`` of a conv layer of shape (C, H, W) is channel-major: idx = c*H*W + y*W + x; a
dense layer of shape (N,) has channel = idx and y = x = 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.io import atomic_write_text, read_json_object
from fcgraph.run_folder import MANIFEST as MANIFEST
from fcgraph.run_folder import condition_slug as condition_slug
from fcgraph.run_folder import layer_pairs as layer_pairs
from fcgraph.run_folder import local_path

FORMAT = "fcgraph.run"
FORMAT_VERSION = 1

#: Edge table columns (required), with their Arrow types.
EDGE_COLUMNS: dict[str, pa.DataType] = {
    "run_id": pa.string(),
    "condition": pa.string(),
    "pre_layer": pa.string(),
    "pre_idx": pa.int64(),
    "post_layer": pa.string(),
    "post_idx": pa.int64(),
    "cofire": pa.int64(),
    "value": pa.float64(),
    "null_mean": pa.float64(),
    "null_sd": pa.float64(),
    "z": pa.float64(),
}
#: Edge columns that may be present (p-values and Benjamini-Hochberg q-values).
OPTIONAL_EDGE_COLUMNS: dict[str, pa.DataType] = {"p": pa.float64(), "q": pa.float64()}

#: Neuron table columns (required); ``condition`` is optional (one row per neuron and condition).
NEURON_COLUMNS: dict[str, pa.DataType] = {
    "layer": pa.string(),
    "idx": pa.int64(),
    "channel": pa.int64(),
    "y": pa.int64(),
    "x": pa.int64(),
    "spike_count": pa.int64(),
    "rate": pa.float64(),
}
OPTIONAL_NEURON_COLUMNS: dict[str, pa.DataType] = {"condition": pa.string()}

EDGE_SCHEMA = pa.schema(list(EDGE_COLUMNS.items()))
NEURON_SCHEMA = pa.schema(list(NEURON_COLUMNS.items()))


@dataclass(frozen=True)
class LayerInfo:
    """One spiking layer: ``shape`` is (C, H, W) for conv layers or (N,) for dense ones."""

    name: str
    order: int
    shape: tuple[int, ...]
    feeds_from: tuple[str, ...] = ()

    @property
    def n_neurons(self) -> int:
        n = 1
        for dim in self.shape:
            n *= dim
        return n

    def position(self, idx: Any) -> tuple[Any, Any, Any]:
        """(channel, y, x) of neuron index/indices ``idx`` (channel-major order)."""
        if len(self.shape) == 3:
            _, h, w = self.shape
            return idx // (h * w), (idx // w) % h, idx % w
        return idx, idx * 0, idx * 0


@dataclass(frozen=True)
class ConditionInfo:
    """A recorded condition, e.g. ``clean``, ``uniform:0.1``, ``pgd:0.03:10``, ``permute:layer``."""

    name: str
    kind: str
    level: float | None = None
    extra: tuple[str, ...] = ()


def neuron_uid(run_id: str, layer: str, idx: int) -> str:
    """The ``uid`` of a neuron (its key in the graph): ``"<run_id>/<layer>/<idx>"``."""
    return f"{run_id}/{layer}/{idx}"


def neuron_label(uid: str) -> str:
    """A neuron's short label, its uid without the run: ``"r1/layer1.0.sn1/12"`` ->
    ``"layer1.0.sn1/12"`` (a run id holds no ``/``); another string is returned unchanged."""
    run, sep, rest = uid.partition("/")
    return rest if sep and run and "/" in rest else uid


#: the recording conditions, as the commands list them (:mod:`fcgraph.record.conditions`)
CONDITION_USAGE = ("clean, uniform:A[:rK], gaussian:S[:rK], fgsm:E, pgd:E:STEPS, permute:layer, "
                   "permute:unit, untrained, epoch:E")


def parse_condition(name: str) -> ConditionInfo:
    """Split ``kind:level[:more]`` into a :class:`ConditionInfo` (level None when not numeric)."""
    if not name or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]*(:[A-Za-z0-9_.\-]+)*", name):
        raise FcgraphError(f"bad condition name {name!r} (expected kind[:level[:...]])")
    kind, *rest = name.split(":")
    level = None
    if rest:
        try:
            level = float(rest[0])
        except ValueError:
            level = None
    return ConditionInfo(name=name, kind=kind, level=level, extra=tuple(rest[1:] if level is not None
                                                                         else rest))


@dataclass
class RunManifest:
    """The parsed ``manifest.json`` of a run folder."""

    run_id: str
    layers: list[LayerInfo]
    conditions: list[ConditionInfo]
    T: int | None = None
    n_images: int | None = None
    fc: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def layer(self, name: str) -> LayerInfo:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def allowed_pairs(self) -> set[tuple[str, str]]:
        """Layer pairs an FC edge may join: consecutive layers, and each declared feeder."""
        return set(layer_pairs(self.layers, "feeders"))

    def fc_pair(self, condition: str, pre: str, post: str) -> dict[str, Any]:
        """fc's report row of one (condition, layer pair) under ``fc.layer_pairs`` ({} when
        fc did not report it)."""
        for row in self.fc.get("layer_pairs", {}).get(condition, []):
            if row.get("pre_layer") == pre and row.get("post_layer") == post:
                return row
        return {}

    def edge_files(self, root: Path) -> dict[str, Path]:
        """Condition name -> edge table path, as listed under ``fc.edges``."""
        return {name: root / rel for name, rel in self.fc.get("edges", {}).items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "run_id": self.run_id,
            "T": self.T,
            "n_images": self.n_images,
            "layers": [{"name": la.name, "order": la.order, "shape": list(la.shape),
                        "feeds_from": list(la.feeds_from)} for la in self.layers],
            "conditions": [{"name": c.name, "kind": c.kind, "level": c.level}
                           for c in self.conditions],
            "fc": self.fc,
            "provenance": self.provenance,
            **self.extra,
        }


def write_manifest(root: Path, manifest: RunManifest) -> Path:
    """Write ``root/manifest.json`` atomically."""
    path = Path(root) / MANIFEST
    atomic_write_text(path, json.dumps(manifest.to_json(), indent=2, sort_keys=False) + "\n")
    return path


def read_manifest(root: Path) -> RunManifest:
    """Parse and check ``root/manifest.json``; :class:`FcgraphError` names the problem."""
    path = local_path(root) / MANIFEST
    if not Path(root).is_dir():
        raise BadArgument(str(root), "no manifest (no such folder)")
    data = read_json_object(path, f"no manifest (is {root} a run folder?)")
    run_id = data.get("run_id")
    if not isinstance(run_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", run_id):
        raise FcgraphError(f"{path}: run_id must be a non-empty name of letters, digits, _ . -")
    layers_raw = data.get("layers")
    if not isinstance(layers_raw, list) or not layers_raw:
        raise FcgraphError(f"{path}: 'layers' must be a non-empty list")
    layers = []
    for i, item in enumerate(layers_raw):
        try:
            shape = tuple(int(d) for d in item["shape"])
            layer = LayerInfo(name=str(item["name"]), order=int(item.get("order", i)), shape=shape,
                              feeds_from=tuple(str(s) for s in item.get("feeds_from", ())))
        except (KeyError, TypeError, ValueError):
            raise FcgraphError(f"{path}: layers[{i}] needs a name and an integer shape") from None
        if not shape or min(shape) <= 0 or len(shape) not in (1, 3):
            raise FcgraphError(f"{path}: layer {layer.name!r} has bad shape {list(shape)}")
        layers.append(layer)
    names = [la.name for la in layers]
    if len(set(names)) != len(names) or len({la.order for la in layers}) != len(layers):
        raise FcgraphError(f"{path}: layer names and orders must be unique")
    for la in layers:
        unknown = set(la.feeds_from) - set(names)
        if unknown:
            raise FcgraphError(f"{path}: layer {la.name!r} is fed by unknown {sorted(unknown)}")
    conditions = [parse_condition(str(c["name"] if isinstance(c, dict) else c))
                  for c in data.get("conditions", [])]
    known = {"format", "format_version", "run_id", "T", "n_images", "layers", "conditions", "fc",
             "provenance"}
    return RunManifest(
        run_id=run_id,
        layers=sorted(layers, key=lambda la: la.order),
        conditions=conditions,
        T=data.get("T"),
        n_images=data.get("n_images"),
        fc=data.get("fc") or {},
        provenance=data.get("provenance") or {},
        extra={k: v for k, v in data.items() if k not in known},
    )
