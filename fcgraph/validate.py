"""Check a run folder against the contract before anything is written to the graph.

Every check streams the Parquet files batch by batch (bounded memory) and raises
:class:`FcgraphError` with one line naming the file and the column at fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fcgraph.contract import (
    EDGE_COLUMNS,
    NEURON_COLUMNS,
    OPTIONAL_EDGE_COLUMNS,
    OPTIONAL_NEURON_COLUMNS,
    RunManifest,
)
from fcgraph.errors import BadArgument, FcgraphError

FINITE_EDGE_COLUMNS = ("value", "null_mean", "null_sd", "z")
VALIDATION_BATCH = 1 << 20


@dataclass(frozen=True)
class EdgeFileSummary:
    """What validation learnt about one edge table."""

    path: Path
    condition: str
    rows: int
    columns: tuple[str, ...]


def _open_parquet(path: Path) -> pq.ParquetFile:
    if not path.exists():
        raise FcgraphError(f"{path}: file not found")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FcgraphError(f"{path}: not a readable Parquet file ({str(exc).strip().splitlines()[0]})") \
            from None


def _batches(path: Path, pf: pq.ParquetFile) -> Iterator[pa.RecordBatch]:
    """The file's record batches; damaged data pages raise :class:`FcgraphError` naming it."""
    batches = pf.iter_batches(batch_size=VALIDATION_BATCH)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise FcgraphError(f"{path}: damaged Parquet data ({str(exc).splitlines()[0]})") from None
        yield batch


def _check_schema(path: Path, schema: pa.Schema, required: dict[str, pa.DataType],
                  optional: dict[str, pa.DataType]) -> tuple[str, ...]:
    names = list(schema.names)
    missing = [c for c in required if c not in names]
    if missing:
        raise FcgraphError(f"{path}: missing column {missing[0]!r}")
    extra = [c for c in names if c not in required and c not in optional]
    if extra:
        raise FcgraphError(f"{path}: unexpected column {extra[0]!r} (the contract has "
                           f"{', '.join([*required, *optional])})")
    for name in names:
        want = {**required, **optional}[name]
        got = schema.field(name).type
        if pa.types.is_dictionary(got):
            got = got.value_type
        if not _compatible(got, want):
            raise FcgraphError(f"{path}: column {name!r} has type {got}, expected {want}")
    return tuple(names)


def _compatible(got: pa.DataType, want: pa.DataType) -> bool:
    if pa.types.is_string(want):
        return pa.types.is_string(got) or pa.types.is_large_string(got)
    if pa.types.is_integer(want):
        return pa.types.is_integer(got)
    if pa.types.is_floating(want):
        return pa.types.is_floating(got)
    return got == want


def _col(batch: pa.RecordBatch, name: str) -> pa.Array:
    col = batch.column(name)
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    return col


def _no_nulls(path: Path, batch: pa.RecordBatch, name: str) -> None:
    if batch.column(name).null_count:
        raise FcgraphError(f"{path}: column {name!r} has missing (null) values")


def validate_edge_file(path: Path, manifest: RunManifest, condition: str) -> EdgeFileSummary:
    """Check one condition's edge table: schema, run, condition, layers, indices, statistics."""
    pf = _open_parquet(path)
    columns = _check_schema(path, pf.schema_arrow, EDGE_COLUMNS, OPTIONAL_EDGE_COLUMNS)
    sizes = {layer.name: layer.n_neurons for layer in manifest.layers}
    allowed = manifest.allowed_pairs()
    rows = 0
    for batch in _batches(path, pf):
        rows += batch.num_rows
        for name in columns:
            _no_nulls(path, batch, name)
        runs = pc.unique(_col(batch, "run_id")).to_pylist()
        if any(r != manifest.run_id for r in runs):
            bad = next(r for r in runs if r != manifest.run_id)
            raise FcgraphError(f"{path}: column 'run_id' names unknown run {bad!r} "
                               f"(the manifest's run is {manifest.run_id!r})")
        conds = pc.unique(_col(batch, "condition")).to_pylist()
        if any(c != condition for c in conds):
            bad = next(c for c in conds if c != condition)
            raise FcgraphError(f"{path}: column 'condition' has {bad!r} in the table of "
                               f"condition {condition!r}")
        pairs = pa.Table.from_batches([batch.select(["pre_layer", "post_layer"])])
        for side in ("pre", "post"):
            unknown = set(pc.unique(_col(batch, f"{side}_layer")).to_pylist()) - set(sizes)
            if unknown:
                raise FcgraphError(f"{path}: column '{side}_layer' names unknown layer "
                                   f"{sorted(unknown)[0]!r}")
        for pre, post in _distinct_pairs(pairs):
            if (pre, post) not in allowed:
                raise FcgraphError(f"{path}: columns 'pre_layer'/'post_layer': {pre!r} -> {post!r} "
                                   "are not consecutive layers")
            _check_index_range(path, batch, "pre", pre, sizes[pre])
            _check_index_range(path, batch, "post", post, sizes[post])
        for name in FINITE_EDGE_COLUMNS + tuple(c for c in OPTIONAL_EDGE_COLUMNS if c in columns):
            values = _col(batch, name).to_numpy(zero_copy_only=False)
            if not np.isfinite(values).all():
                raise FcgraphError(f"{path}: column {name!r} has NaN or infinite values")
        cofire = _col(batch, "cofire").to_numpy(zero_copy_only=False)
        if (cofire < 0).any():
            raise FcgraphError(f"{path}: column 'cofire' has negative counts")
        if (_col(batch, "null_sd").to_numpy(zero_copy_only=False) <= 0).any():
            raise FcgraphError(f"{path}: column 'null_sd' must be positive for an edge")
    return EdgeFileSummary(path=path, condition=condition, rows=rows, columns=columns)


def _distinct_pairs(pairs: pa.Table) -> list[tuple[str, str]]:
    grouped = pairs.group_by(["pre_layer", "post_layer"]).aggregate([])
    return list(zip(grouped.column("pre_layer").to_pylist(),
                    grouped.column("post_layer").to_pylist(), strict=True))


def _check_index_range(path: Path, batch: pa.RecordBatch, side: str, layer: str, size: int) -> None:
    mask = pc.equal(_col(batch, f"{side}_layer"), layer)
    idx = pc.filter(_col(batch, f"{side}_idx"), mask).to_numpy(zero_copy_only=False)
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = int(idx.min() if idx.min() < 0 else idx.max())
        raise FcgraphError(f"{path}: column '{side}_idx' has {bad}, out of range for layer "
                           f"{layer!r} of {size} neurons")


def validate_neuron_file(path: Path, manifest: RunManifest) -> int:
    """Check the neuron table: schema, known layers, indices in range, finite rates."""
    pf = _open_parquet(path)
    columns = _check_schema(path, pf.schema_arrow, NEURON_COLUMNS, OPTIONAL_NEURON_COLUMNS)
    sizes = {layer.name: layer.n_neurons for layer in manifest.layers}
    conditions = {c.name for c in manifest.conditions}
    rows = 0
    for batch in _batches(path, pf):
        rows += batch.num_rows
        for name in columns:
            _no_nulls(path, batch, name)
        layers = _col(batch, "layer")
        unknown = set(pc.unique(layers).to_pylist()) - set(sizes)
        if unknown:
            raise FcgraphError(f"{path}: column 'layer' names unknown layer {sorted(unknown)[0]!r}")
        for layer in pc.unique(layers).to_pylist():
            idx = pc.filter(_col(batch, "idx"), pc.equal(layers, layer)).to_numpy(
                zero_copy_only=False)
            if idx.min() < 0 or idx.max() >= sizes[layer]:
                raise FcgraphError(f"{path}: column 'idx' out of range for layer {layer!r}")
        rate = _col(batch, "rate").to_numpy(zero_copy_only=False)
        if not np.isfinite(rate).all() or (rate < 0).any() or (rate > 1).any():
            raise FcgraphError(f"{path}: column 'rate' must be finite and within [0, 1]")
        if "condition" in columns and conditions:
            unknown_c = set(pc.unique(_col(batch, "condition")).to_pylist()) - conditions
            if unknown_c:
                raise FcgraphError(f"{path}: column 'condition' names unknown condition "
                                   f"{sorted(unknown_c)[0]!r}")
    return rows


def validate_run(root: Path, manifest: RunManifest,
                 conditions: list[str] | None = None) -> dict[str, EdgeFileSummary]:
    """Validate the neuron table and the chosen conditions' edge tables of a run folder."""
    files = manifest.edge_files(root)
    known = {c.name for c in manifest.conditions}
    wanted = list(files) if conditions is None else conditions
    for name in wanted:
        if name not in files:
            listed = ", ".join(files) or "none"
            raise BadArgument("--condition", f"{root / 'manifest.json'}: no edge table for condition "
                                             f"{name!r} (listed: {listed})")
        if known and name not in known:
            raise FcgraphError(f"{root / 'manifest.json'}: edge table for condition {name!r}, "
                               "which is not among the run's conditions")
    neurons = manifest.fc.get("neurons")
    if neurons:
        validate_neuron_file(root / neurons, manifest)
    return {name: validate_edge_file(files[name], manifest, name) for name in wanted}
