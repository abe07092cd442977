"""The bulk path end to end against neo4j-admin import alone, on the same run, in one run.

Starts its own Neo4j (a temporary state folder, free ports, the installed jars), loads a small
synthetic run online so that the graph already holds a run, then measures:
  - ``bulk_ingest`` of RUN (every edge of every condition): CSV export of both runs, import
    into the staging store, server stop, swap, start, indexes, count check;
  - the baseline: ``neo4j-admin database import full`` alone on the same CSV files (written
    again beforehand, not timed), into a scratch home;
and reports edges per second for both and their ratio. Results go to stdout and JSON.

    .venv/bin/python benchmarks/bulk.py RUN [--out benchmarks/results/bulk.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from fcgraph.db import server
from fcgraph.db.bulk import bulk_ingest
from fcgraph.graph.connection import Graph
from fcgraph.graph.import_files import IMPORT_PREFIX, write_import_files
from fcgraph.graph.ingest import ingest_run
from fcgraph.paths import state_dir
from fcgraph.synthetic import make_synthetic_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder with fc output (e.g. the demo's)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bulk.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fcgraph-bulk-bench-", dir=args.run.parent))
    state = work / "state"
    (state / "neo4j").mkdir(parents=True)
    os.symlink(server.ServerLayout.of(state_dir()).lib, server.ServerLayout.of(state).lib)
    other = work / "other"
    make_synthetic_run(other, "bench-other", conditions=("clean",), fan_in=8)
    results: dict[str, float] = {}
    try:
        server.start(state, bolt_port=server.free_port(), http_port=server.free_port())
        with Graph.open(server.local_connection(state)) as graph:
            ingest_run(graph, other)
        t0 = time.perf_counter()
        loaded = bulk_ingest(state, args.run)
        t_bulk = time.perf_counter() - t0
        edges = int(loaded.edges.sum())
        print(f"{args.run}: {edges:,} edges", flush=True)
        print(f"bulk_ingest end to end:     {t_bulk:7.1f} s  {edges / t_bulk:>9,.0f} edges/s",
              flush=True)
        timings = loaded.attrs.get("timings", {})
        print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()), flush=True)
        server.stop(state)

        csv = work / "csv"
        t0 = time.perf_counter()
        files: list[str] = []
        for root in (other, args.run):
            out = write_import_files(root, csv / root.name)
            files += [a for a in out["args"] if a.startswith(("--nodes=", "--relationships="))]
        t_export = time.perf_counter() - t0
        scratch = server.ServerLayout(work / "scratch")
        t0 = time.perf_counter()
        proc = server.admin_command(state, *IMPORT_PREFIX, f"--report-file={csv / 'report'}",
                                    *files, home=scratch)
        t_import = time.perf_counter() - t0
        assert proc.returncode == 0, proc.stderr[-2000:]
        print(f"export-csv alone:           {t_export:7.1f} s  {edges / t_export:>9,.0f} edges/s")
        print(f"neo4j-admin import alone:   {t_import:7.1f} s  {edges / t_import:>9,.0f} edges/s "
              "(JVM start included)")
        print(f"ratio bulk / import alone:  {t_bulk / t_import:5.2f}x")
        results = {"edges": edges, "bulk_seconds": t_bulk, "export_seconds": t_export,
                   "import_seconds": t_import, "bulk_edges_per_second": edges / t_bulk,
                   "import_edges_per_second": edges / t_import,
                   "ratio_bulk_to_import": t_bulk / t_import, "bulk_stages": timings}
    finally:
        server.stop(state)
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"run": str(args.run), **results,
                                    "machine": f"{platform.node()} {os.cpu_count()} cores",
                                    "date": time.strftime("%Y-%m-%d %H:%M")}, indent=2) + "\n")
    print(f"results in {args.out}")


if __name__ == "__main__":
    main()
