"""A hand-written connectome whose every named-query answer is known (tests/graph/test_queries.py
and tests/cli/test_cli_query.py load it).

Run A has four layers (in: 4 dense, h1: 1x2x2 conv, h2: 3, out: 2), a ``clean`` condition of
15 edges E1..E15 and ``uniform:0.1``, which loses E4, E7, E10, E14, keeps the others with
z - 0.5 and gains G1, G2. Run B (same layers, clean only) shares E1, E2, E4, E7, E12 with A and
has three edges of its own. Non-live edges (gen -1) are written next to the live ones and
must never show.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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
from fcgraph.graph.connection import Graph
from fcgraph.graph.ingest import delete_run, ingest_run

LAYERS = (("in", (4,)), ("h1", (1, 2, 2)), ("h2", (3,)), ("out", (2,)))
# (pre_layer, pre_idx, post_layer, post_idx, z, value)
CLEAN = {
    "E1": ("in", 0, "h1", 0, 5.0, 0.50), "E2": ("in", 1, "h1", 0, 4.0, 0.40),
    "E3": ("in", 2, "h1", 0, 3.5, 0.35), "E4": ("in", 1, "h1", 1, 6.0, 0.20),
    "E5": ("in", 3, "h1", 1, 3.2, 0.32), "E6": ("in", 2, "h1", 2, 4.5, 0.45),
    "E7": ("h1", 0, "h2", 0, 7.0, 0.30), "E8": ("h1", 0, "h2", 1, 3.1, 0.31),
    "E9": ("h1", 1, "h2", 0, 5.5, 0.55), "E10": ("h1", 1, "h2", 2, 4.2, 0.42),
    "E11": ("h1", 2, "h2", 2, 3.3, 0.33), "E12": ("h2", 0, "out", 0, 6.5, 0.65),
    "E13": ("h2", 1, "out", 0, 3.4, 0.34), "E14": ("h2", 2, "out", 1, 5.2, 0.52),
    "E15": ("h2", 0, "out", 1, 3.6, 0.36),
}
LOST = ("E4", "E7", "E10", "E14")
GAINED = [("in", 3, "h1", 3, 3.9, 0.39), ("h1", 2, "h2", 1, 4.1, 0.41)]
UNIFORM = [(a, i, b, j, z - 0.5, v) for key, (a, i, b, j, z, v) in CLEAN.items()
           if key not in LOST] + GAINED
OTHER = [CLEAN[k][:4] + (3.3, 0.33) for k in ("E1", "E2", "E4", "E7", "E12")] + [
    ("in", 0, "h1", 3, 3.3, 0.33), ("h1", 3, "h2", 1, 3.3, 0.33), ("h2", 1, "out", 1, 3.3, 0.33)]
# non-live edges (condition, pre uid suffix, post uid suffix): a gen no Condition has
STALE_A = [("clean", "in/3", "h1/0"), ("uniform:0.1", "h1/0", "h2/0"), ("clean", "h2/1", "out/1")]
STALE_B = [("clean", "in/2", "h1/0")]


def write_run(root: Path, run_id: str, edges: dict[str, list[tuple]]) -> Path:
    """A run folder per the contract, from hand-written edges per condition."""
    (root / "fc" / "edges").mkdir(parents=True, exist_ok=True)
    layers = [LayerInfo(name, i, shape, (LAYERS[i - 1][0],) if i else ())
              for i, (name, shape) in enumerate(LAYERS)]
    rel_paths = {}
    for condition, rows in edges.items():
        n = len(rows)
        cols = list(zip(*rows, strict=True))
        z = pa.array(cols[4], pa.float64())
        table = pa.table({
            "run_id": [run_id] * n, "condition": [condition] * n,
            "pre_layer": pa.array(cols[0], pa.string()), "pre_idx": pa.array(cols[1], pa.int64()),
            "post_layer": pa.array(cols[2], pa.string()),
            "post_idx": pa.array(cols[3], pa.int64()),
            "cofire": pa.array([int(10 + 2 * v) for v in cols[4]], pa.int64()),
            "value": pa.array(cols[5], pa.float64()), "null_mean": [10.0] * n,
            "null_sd": [2.0] * n, "z": z}, schema=EDGE_SCHEMA)
        rel = f"fc/edges/{condition_slug(condition)}.parquet"
        pq.write_table(table, root / rel)
        rel_paths[condition] = rel
    neurons: dict[str, list] = {name: [] for name in NEURON_SCHEMA.names}
    for layer in layers:
        for idx in range(layer.n_neurons):
            channel, y, x = layer.position(idx)
            rate = round(0.1 * layer.order + 0.01 * (idx + 1), 4)
            for key, value in (("layer", layer.name), ("idx", idx), ("channel", channel),
                               ("y", y), ("x", x), ("spike_count", round(rate * 1000)),
                               ("rate", rate)):
                neurons[key].append(value)
    pq.write_table(pa.table(neurons, schema=NEURON_SCHEMA), root / "fc" / "neurons.parquet")
    write_manifest(root, RunManifest(
        run_id=run_id, layers=layers, conditions=[parse_condition(c) for c in edges], T=8,
        n_images=10, fc={"parameters": {"measure": "sttc", "z": 3.0},
                         "neurons": "fc/neurons.parquet", "edges": rel_paths}))
    return root


def add_stale(graph: Graph, run_id: str, stale: list[tuple[str, str, str]]) -> None:
    """Write FC edges with gen -1: loaded-but-not-live, as during an ingest or a --replace."""
    for condition, a, b in stale:
        created = graph.driver.execute_query("""
            MATCH (a:Neuron {uid: $a}), (b:Neuron {uid: $b})
            CREATE (a)-[:FC {condition: $condition, gen: -1,
                             value: 0.99, z: 99.0, cofire: 99, null_mean: 0.0, null_sd: 1.0}]->(b)
            RETURN count(*) AS n""", a=f"{run_id}/{a}", b=f"{run_id}/{b}", run_id=run_id,
                                     condition=condition).records[0]["n"]
        assert created == 1


@contextmanager
def tiny_runs(graph: Graph, tmp: Path) -> Iterator[tuple[str, str]]:
    """Ingest runs A and B (with their stale edges); always delete them afterwards."""
    run_a, run_b = f"q{uuid.uuid4().hex[:10]}", f"q{uuid.uuid4().hex[:10]}"
    try:
        ingest_run(graph, write_run(tmp / "a", run_a, {"clean": list(CLEAN.values()),
                                                         "uniform:0.1": UNIFORM}))
        ingest_run(graph, write_run(tmp / "b", run_b, {"clean": OTHER}))
        add_stale(graph, run_a, STALE_A)
        add_stale(graph, run_b, STALE_B)
        yield run_a, run_b
    finally:
        delete_run(graph, run_a)
        delete_run(graph, run_b)
