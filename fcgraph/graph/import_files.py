"""Files for `neo4j-admin database import full`, written from a run folder (run folder -> CSV files
the importer reads; the `fcgraph export-csv` command), for graphs too big for UNWIND.

The files reproduce exactly the graph that :func:`fcgraph.graph.ingest.ingest_run` builds (same
labels, properties and uids). ``import.args`` in the output folder holds the matching
neo4j-admin arguments; ``fcgraph db import-csv DIR`` runs them against the local server (which
must be stopped: a full import replaces the database). Afterwards ``fcgraph db init`` (or any
ingest) creates the indexes, which bulk import does not.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fcgraph.contract import RunManifest, condition_slug, read_manifest
from fcgraph.errors import BadArgument
from fcgraph.fc.edge_states import EdgeStates, ensure_edge_states, tested_neurons
from fcgraph.graph.ingest import (
    AnalysisProperties,
    ProgressFn,
    Selection,
    analysis_properties,
    edge_batches,
    load_key,
    neurons_key,
    read_analysis,
    run_properties,
    selected_rows,
    silent_lists,
    state_patterns,
)
from fcgraph.graph.states import (
    NEURON_LIST_PROPERTIES,
    degree_arrays,
    degree_conditions,
    edge_loss_rows,
    loss_baseline,
    pair_stats_rows,
)
from fcgraph.validate import validate_run

CSV_GEN_BASE = 1 << 40


def export_threads(n_files: int) -> int:
    """Threads writing edge CSV files at once: one per core, at most one per file."""
    return max(1, min(n_files, os.cpu_count() or 1))
#: The neo4j-admin arguments before the report file and the file lists.
IMPORT_PREFIX = ("database", "import", "full", "neo4j", "--overwrite-destination=true",
                 "--array-delimiter=;")


def csv_gen(run_id: str, condition: str) -> int:
    """The load generation of a bulk-imported condition: unique per (run, condition), and above
    every generation the transactional loader hands out."""
    digest = hashlib.sha256(f"{run_id}/{condition}".encode()).digest()
    return CSV_GEN_BASE + int.from_bytes(digest[:4], "big")


def _neo4j_type(value: Any) -> str:
    if isinstance(value, bool):
        return ":boolean"
    if isinstance(value, int):
        return ":long"
    if isinstance(value, float):
        return ":double"
    if isinstance(value, list):
        inner = _neo4j_type(value[0]) if value else ""
        return (inner or ":string") + "[]"
    return ""


def _csv_value(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return value


def _write_rows(path: Path, header: list[str], rows: Iterable[list[Any]]) -> int:
    columns: list[list[Any]] = [[] for _ in header]
    for row in rows:
        for col, value in zip(columns, row, strict=True):
            col.append(_csv_value(value))
    table = pa.table({name: pa.array(col) for name, col in zip(header, columns, strict=True)})
    pacsv.write_csv(table, path)
    return table.num_rows


def _typed_names(names: list[str], rows: list[dict[str, Any]]) -> list[str]:
    """``name:type`` headers, each typed by the first non-null value in ``rows``."""
    out = []
    for name in names:
        value = next((r[name] for r in rows if r.get(name) is not None), None)
        out.append(name + _neo4j_type(value))
    return out


def _write_structure(out: Path, root: Path, manifest: RunManifest, loaded: dict[str, tuple[int, str]],
                     neurons: str, selection: Selection, states: EdgeStates,
                     analysis: AnalysisProperties | None) -> dict[str, list[str]]:
    """Run, layer, condition and edge-loss nodes and their links; ``loaded``: condition ->
    (edges, key); ``neurons``: the neuron nodes' key; ``analysis``: what analyze adds."""
    run_id = manifest.run_id
    conditions = list(loaded)
    props = {**run_properties(manifest, root), "neurons_key": neurons, "states_key": states.key,
             "states_exact": states.exact, "degree_conditions": degree_conditions(manifest),
             "loss_baseline": loss_baseline(manifest), **(analysis.run if analysis else {})}
    keys = sorted(k for k, v in props.items() if v is not None)
    _write_rows(out / "runs.csv", ["run_id:ID(Run)"] + [k + _neo4j_type(props[k]) for k in keys],
                [[run_id] + [props[k] for k in keys]])
    layer_props = [analysis.layers.get(f"{run_id}/{la.name}", {}) if analysis else {}
                   for la in manifest.layers]
    extra = sorted({k for p in layer_props for k in p})
    _write_rows(out / "layers.csv",
                ["uid:ID(Layer)", "run_id", "name", "order:int", "shape:long[]", "n_neurons:long"]
                + _typed_names(extra, layer_props),
                [[f"{run_id}/{la.name}", run_id, la.name, la.order, list(la.shape), la.n_neurons]
                 + [p.get(k) for k in extra] for la, p in zip(manifest.layers, layer_props,
                                                               strict=True)])
    by_name = {c.name: c for c in manifest.conditions}
    _write_rows(out / "conditions.csv",
                ["uid:ID(Condition)", "run_id", "name", "kind", "level:double", "gen:long",
                 "n_edges:long", "load_key", "source", "top_k:long", "min_z:double"],
                [[f"{run_id}/{name}", run_id, name,
                  by_name[name].kind if name in by_name else name.split(":")[0],
                  by_name[name].level if name in by_name else None, csv_gen(run_id, name),
                  loaded[name][0], loaded[name][1], manifest.fc["edges"][name],
                  selection.top_k, selection.min_z]
                 for name in conditions])
    _write_rows(out / "has_layer.csv", [":START_ID(Run)", ":END_ID(Layer)"],
                [[run_id, f"{run_id}/{la.name}"] for la in manifest.layers])
    pairs = manifest.allowed_pairs()
    _write_rows(out / "feeds.csv", [":START_ID(Layer)", ":END_ID(Layer)"],
                [[f"{run_id}/{a}", f"{run_id}/{b}"] for a, b in sorted(pairs)])
    _write_rows(out / "has_condition.csv", [":START_ID(Run)", ":END_ID(Condition)"],
                [[run_id, f"{run_id}/{name}"] for name in conditions])
    nodes = {"Run": ["runs.csv"], "Layer": ["layers.csv"], "Condition": ["conditions.csv"]}
    types = {"exact": ":boolean", "lost_fraction": ":double", "jaccard": ":double",
             "mean_z": ":double", "mean_value": ":double", "pre_order": ":int",
             "post_order": ":int"}
    for label, file, rows in (("EdgeLoss", "edge_loss.csv", edge_loss_rows(manifest, states)),
                              ("PairStats", "pair_stats.csv", pair_stats_rows(manifest, states))):
        if not rows:
            continue
        columns = [c for c in rows[0] if c != "uid"]
        header = [f"uid:ID({label})"] + [c + types.get(c, ":long" if isinstance(rows[0][c], int)
                                                       else "") for c in columns]
        _write_rows(out / file, header, [[r["uid"]] + [r[c] for c in columns] for r in rows])
        nodes[label] = [file]
    return nodes


def _write_neurons(out: Path, root: Path, manifest: RunManifest, states: EdgeStates,
                   analysis: AnalysisProperties | None) -> None:
    from fcgraph.graph.ingest import neuron_stats

    stats = neuron_stats(root, manifest)
    tested = tested_neurons(root, manifest)
    by_uid = analysis.neurons if analysis else {}
    extra = sorted({k for p in by_uid.values() for k in p})
    header = ["uid:ID(Neuron)", "run_id", "layer", "layer_order:int", "idx:long", "channel:long",
              "y:long", "x:long", "rate:double", "spike_count:long", "silent_in:string[]",
              *(p + (":long[]" if p.endswith("degree") else ":double[]")
                for p in NEURON_LIST_PROPERTIES),
              *_typed_names(extra, list(by_uid.values())), ":LABEL"]
    degrees = degree_arrays(manifest, states)
    offset = 0
    with pacsv.CSVWriter(out / "neurons.csv", pa.schema([(h, pa.string()) for h in header])) as w:
        for layer in manifest.layers:
            idx = np.arange(layer.n_neurons, dtype=np.int64)
            channel, y, x = (np.asarray(v, dtype=np.int64) for v in layer.position(idx))
            rate = pa.nulls(layer.n_neurons, pa.float64())
            count = pa.nulls(layer.n_neurons, pa.int64())
            if layer.name in stats:
                part = stats[layer.name].reindex(idx)
                rate = pa.array(part["rate"].to_numpy(), from_pandas=True)
                count = pa.array(part["spike_count"].to_numpy(dtype=float), from_pandas=True).cast(
                    pa.int64())
            prefix = f"{manifest.run_id}/{layer.name}/"
            uid = pa.array([prefix + str(i) for i in idx.tolist()])
            cols = [uid, pa.array([manifest.run_id] * layer.n_neurons),
                    pa.array([layer.name] * layer.n_neurons),
                    pa.array(np.full(layer.n_neurons, layer.order)), pa.array(idx),
                    pa.array(channel), pa.array(y), pa.array(x), rate, count,
                    _array_column(silent_lists(tested, offset + idx))]
            has, arrays = degrees[layer.name]
            cols += [_array_column([row.tolist() if keep else None
                                    for row, keep in zip(arrays[p], has, strict=True)])
                     for p in NEURON_LIST_PROPERTIES]
            found = [by_uid.get(u, {}) for u in uid.to_pylist()] if by_uid else []
            cols += [pa.array([p.get(k) for p in found]) for k in extra]
            cols += [pa.array([f"L{layer.order}"] * layer.n_neurons)]  # the label ingest sets
            w.write_table(pa.table([c.cast(pa.string()) for c in cols], names=header))
            offset += layer.n_neurons


def _array_column(lists: list[list[Any] | None]) -> pa.Array:
    """Lists as neo4j-admin array cells (``;``-joined, NaN as Java writes it; null: no
    property)."""
    return pa.array([";".join("NaN" if x != x else str(x) for x in v) if v else None
                     for v in lists], pa.string())


def _write_edges(path: Path, edge_file: Path, manifest: RunManifest, condition: str,
                 selection: Selection, codes: dict[str, np.ndarray],
                 progress: ProgressFn | None) -> int:
    has_pq = "p" in pq.ParquetFile(edge_file).schema_arrow.names
    header = [":START_ID(Neuron)", ":END_ID(Neuron)", "condition", "gen:long",
              "value:double", "z:double", "cofire:long", "null_mean:double", "null_sd:double",
              "weakened_in:string[]", "silenced_in:string[]"]
    if has_pq:
        header += ["p:double", "q:double"]
    gen = csv_gen(manifest.run_id, condition)
    mask = selected_rows(edge_file, selection)
    total = int(mask.sum()) if mask is not None else pq.ParquetFile(edge_file).metadata.num_rows
    written = 0
    schema = pa.schema([(h, pa.string()) for h in header])
    with pacsv.CSVWriter(path, schema) as writer:
        for _, batch, rows in edge_batches(edge_file, mask, 200_000):
            n = batch.num_rows

            def uid(side: str, batch: pa.RecordBatch = batch) -> pa.Array:
                return pa.compute.binary_join_element_wise(
                    manifest.run_id, batch.column(f"{side}_layer"),
                    batch.column(f"{side}_idx").cast(pa.string()), "/")

            cols = [uid("pre"), uid("post"), pa.repeat(condition, n), pa.repeat(str(gen), n)]
            cols += [batch.column(c) for c in ("value", "z", "cofire", "null_mean", "null_sd")]
            inverse, *per_pattern = state_patterns(codes, rows)
            cols += [_array_column(cells).take(pa.array(inverse)) for cells in per_pattern]
            if has_pq:
                cols += [batch.column("p"),
                         batch.column("q") if "q" in batch.schema.names else pa.nulls(n)]
            writer.write_table(pa.table([c.cast(pa.string()) for c in cols], names=header))
            written += n
            if progress:
                progress(f"csv {condition}", written, total)
    return written


def write_import_files(run_dir: str | Path, out_dir: str | Path, *, conditions: list[str] | None = None,
                     top_k: int | None = None, min_z: float | None = None,
                     progress: ProgressFn | None = None) -> dict[str, Any]:
    """Write the run's graph as neo4j-admin import CSV files into ``out_dir``.

    Returns ``{"files": {...}, "edges": n, "args": [...], "loaded": {condition: edges}}`` where
    ``args`` are the arguments of ``neo4j-admin database import full`` (also written to
    ``out_dir/import.args``).
    """
    root, out = Path(run_dir), Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BadArgument("--out", f"{out} is a file, not a folder")
    selection = Selection(top_k=top_k, min_z=min_z)
    manifest = read_manifest(root)
    summaries = validate_run(root, manifest, conditions)
    analysis_files = read_analysis(root, manifest)
    analysis = analysis_properties(manifest, analysis_files) if analysis_files else None
    out.mkdir(parents=True, exist_ok=True)
    states = ensure_edge_states(root, manifest, progress=progress)
    files = manifest.edge_files(root)
    fc_files = [f"fc-{condition_slug(name)}.csv" for name in summaries]
    # one condition per thread: formatting numbers as text (pyarrow, GIL released) is the cost
    with ThreadPoolExecutor(max_workers=export_threads(len(fc_files))) as pool:
        counts = pool.map(lambda name, fname: _write_edges(
            out / fname, files[name], manifest, name, selection, states.codes(name), progress),
            summaries, fc_files)
        loaded = {name: (count, load_key(files[name], selection, states))
                  for name, count in zip(summaries, counts, strict=True)}
    nodes = _write_structure(out, root, manifest, loaded, neurons_key(root, manifest), selection, states,
                             analysis)
    _write_neurons(out, root, manifest, states, analysis)
    nodes["Neuron"] = ["neurons.csv"]
    rels: dict[str, list[str]] = {"HAS_LAYER": ["has_layer.csv"], "FEEDS": ["feeds.csv"],
                                  "HAS_CONDITION": ["has_condition.csv"], "FC": fc_files}
    edges = sum(count for count, _ in loaded.values())
    args = [*IMPORT_PREFIX, f"--report-file={out / 'import.report'}"]
    # one flag per file: neo4j-admin reads a header only from the first file of a group
    args += [f"--nodes={label}={out / f}" for label, fs in nodes.items() for f in fs]
    args += [f"--relationships={rtype}={out / f}" for rtype, fs in rels.items() for f in fs]
    (out / "import.args").write_text("\n".join(args) + "\n")
    sources = {name: key.split(";")[0] for name, (_, key) in loaded.items()}
    (out / "IMPORT.md").write_text(
        f"# neo4j-admin import of run {manifest.run_id}\n\n"
        "Stop the database first (a full import replaces it), then run:\n\n"
        f"    neo4j-admin {' '.join(shlex.quote(a) for a in args)}\n\n"
        "or, for fcgraph's local server: `fcgraph db stop && fcgraph db import-csv "
        f"{out} && fcgraph db start && fcgraph db init`.\n\n"
        f"Edge sources (sha256): {sources}\n")
    return {"files": {**nodes, **rels}, "edges": edges, "args": args,
            "loaded": {name: count for name, (count, _) in loaded.items()}}
