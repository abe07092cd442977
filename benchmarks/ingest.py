"""Edges per second into Neo4j: the UNWIND loader at several batch sizes, and the CSV bulk path.

Starts its own Neo4j (a temporary state folder, free ports), writes a synthetic run of about
1M edges, then measures in one run:
  - `ingest_run` (batched UNWIND, 2 concurrent transactions) at batch sizes 5k, 20k, 50k, and
    at 20k with one transaction at a time;
  - `write_import_files` + `neo4j-admin database import full` (server stopped), the baseline: the
    fastest way Neo4j offers to build a store.
Each UNWIND figure is also given as a ratio to that baseline. Results go to stdout and JSON.

    .venv/bin/python benchmarks/ingest.py [--edges-per-layer-pair 262144] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from fcgraph.db import server
from fcgraph.graph.connection import Graph
from fcgraph.graph.import_files import write_import_files
from fcgraph.graph.ingest import delete_run, ingest_run
from fcgraph.paths import state_dir
from fcgraph.synthetic import make_synthetic_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=4096, help="neurons per layer (5 layers)")
    parser.add_argument("--fan-in", type=int, default=64, help="clean in-edges per neuron")
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ingest.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fcgraph-bench-"))
    state = work / "state"
    (state / "neo4j").mkdir(parents=True)
    shared_lib = server.ServerLayout.of(state_dir()).lib
    if (shared_lib / ".complete").exists():
        os.symlink(shared_lib, server.ServerLayout.of(state).lib)
    run_root = work / "run"
    layers = [(f"l{i}", (args.neurons,)) for i in range(5)]
    make_synthetic_run(run_root, "bench", layers=layers, conditions=("clean",), fan_in=args.fan_in)
    edges = 4 * args.neurons * args.fan_in
    print(f"synthetic run: {edges:,} edges, {5 * args.neurons:,} neurons; Neo4j heap {args.heap}")
    bolt, http = server.free_port(), server.free_port()
    results: dict[str, float] = {}
    try:
        server.start(state, bolt_port=bolt, http_port=http, heap=args.heap, pagecache="1g")
        conn = server.local_connection(state)
        with Graph.open(conn) as graph:
            ingest_run(graph, run_root, batch_size=20_000)  # warm-up: JIT, plan cache, store
            delete_run(graph, "bench")
            for batch, workers in ((5_000, 2), (20_000, 2), (50_000, 2), (20_000, 1)):
                t0 = time.perf_counter()
                ingest_run(graph, run_root, batch_size=batch, workers=workers)
                seconds = time.perf_counter() - t0
                results[f"unwind batch={batch} workers={workers}"] = edges / seconds
                print(f"UNWIND batch {batch:>6,} workers {workers}: {edges / seconds:>9,.0f} edges/s "
                      f"({seconds:.1f} s)", flush=True)
                delete_run(graph, "bench")
        server.stop(state)
        t0 = time.perf_counter()
        write_import_files(run_root, work / "csv")
        t_export = time.perf_counter() - t0
        t0 = time.perf_counter()
        server.import_csv(state, work / "csv")
        t_import = time.perf_counter() - t0
        results["csv export"] = edges / t_export
        results["neo4j-admin import"] = edges / t_import
        results["csv export + import"] = edges / (t_export + t_import)
        print(f"export-csv:          {edges / t_export:>9,.0f} edges/s ({t_export:.1f} s)")
        print(f"neo4j-admin import:  {edges / t_import:>9,.0f} edges/s ({t_import:.1f} s, "
              "JVM start included)")
        baseline = results["csv export + import"]
        print(f"\nratio to the CSV bulk path ({baseline:,.0f} edges/s, export + import):")
        for key, value in results.items():
            if key.startswith("unwind"):
                print(f"  {key:<32} {value / baseline:5.2f}x")
    finally:
        server.stop(state)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"edges": edges, "edges_per_second": results,
                                    "machine": f"{platform.node()} {os.cpu_count()} cores",
                                    "date": time.strftime("%Y-%m-%d %H:%M")}, indent=2) + "\n")
    print(f"results in {args.out}")


if __name__ == "__main__":
    main()
