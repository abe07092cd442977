"""A hand-written run whose every edge state is known (tests/graph/test_edge_states.py and
test_edge_summaries.py; the ``known_run`` fixture of tests/graph/conftest.py writes it)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fcgraph.contract import (
    EDGE_SCHEMA,
    NEURON_SCHEMA,
    LayerInfo,
    RunManifest,
    condition_slug,
    parse_condition,
    write_manifest,
)

LAYERS = (("in", (3,)), ("h", (2,)), ("out", (2,)))
# clean: e1 in0>h0 (kept), e2 in1>h0 (kept, re-ranked first), e5 in2>h1 (silenced: in2 fires once
# under uniform), e3 h0>out0 (kept), e4 h0>out1 (weakened: both tested, not significant),
# e6 h1>out1 (kept); uniform gains in0>h1.
CLEAN = [("in", 0, "h", 0, 9.0), ("in", 1, "h", 0, 8.0), ("in", 2, "h", 1, 5.0),
         ("h", 0, "out", 0, 7.0), ("h", 0, "out", 1, 6.0), ("h", 1, "out", 1, 5.5)]
UNIFORM = [("in", 0, "h", 0, 3.5), ("in", 1, "h", 0, 12.0), ("in", 0, "h", 1, 3.3),
           ("h", 0, "out", 0, 3.2), ("h", 1, "out", 1, 4.0)]
SILENT = {("uniform:0.1", "in", 2)}  # fewer than min_spikes under that condition


def write_known_run(root: Path, run_id: str, uniform: list[tuple] = UNIFORM) -> Path:
    """The hand-written run above, per the contract (neuron counts per condition)."""
    (root / "fc" / "edges").mkdir(parents=True, exist_ok=True)
    layers = [LayerInfo(name, i, shape) for i, (name, shape) in enumerate(LAYERS)]
    rels = {}
    for condition, rows in (("clean", CLEAN), ("uniform:0.1", uniform)):
        n = len(rows)
        cols = list(zip(*rows, strict=True))
        table = pa.table({
            "run_id": [run_id] * n, "condition": [condition] * n,
            "pre_layer": pa.array(cols[0], pa.string()), "pre_idx": pa.array(cols[1], pa.int64()),
            "post_layer": pa.array(cols[2], pa.string()), "post_idx": pa.array(cols[3], pa.int64()),
            "cofire": [20] * n, "value": [0.5] * n, "null_mean": [10.0] * n, "null_sd": [2.0] * n,
            "z": pa.array(cols[4], pa.float64())}, schema=EDGE_SCHEMA)
        rel = f"fc/edges/{condition_slug(condition)}.parquet"
        pq.write_table(table, root / rel)
        rels[condition] = rel
    rows = []
    for condition in rels:
        for la in layers:
            for idx in range(la.n_neurons):
                spikes = 1 if (condition, la.name, idx) in SILENT else 100
                rows.append({"layer": la.name, "idx": idx, "channel": idx, "y": 0, "x": 0,
                             "spike_count": spikes, "rate": spikes / 800, "condition": condition})
    schema = NEURON_SCHEMA.append(pa.field("condition", pa.string()))
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / "fc" / "neurons.parquet")
    write_manifest(root, RunManifest(
        run_id=run_id, layers=layers, conditions=[parse_condition(c) for c in rels], T=8,
        n_images=100, fc={"parameters": {"measure": "sttc", "z": 3.0, "min_spikes": 10},
                         "neurons": "fc/neurons.parquet", "edges": rels}))
    return root
