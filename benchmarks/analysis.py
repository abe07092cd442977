"""Cost of `fcgraph analyze` against computing the same recording's edges, in one run.

Copies a recording folder (spikes and manifest) into a scratch folder, times
``fcgraph.fc.run.compute_run`` (the edges every analysis needs: exact whole-image null, the
given candidates) and then ``fcgraph.analysis.analyze_run`` (default parameters: 128 neurons per
layer, 200 bootstraps, all conditions), and writes both times and their ratio to
``benchmarks/results/analysis.json``. Goal (issue 5): analysis takes less time than the edges.

    .venv/bin/python benchmarks/analysis.py runs/digits-test            # every condition
    .venv/bin/python benchmarks/analysis.py runs/digits-test -c clean -c uniform:0.1
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

from fcgraph.analysis import AnalysisConfig, analyze_run
from fcgraph.fc.run import compute_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path)
    parser.add_argument("-c", "--condition", action="append", default=None)
    parser.add_argument("--candidates", default="all", choices=("all", "receptive-field"))
    parser.add_argument("--max-neurons", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "analysis.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fcgraph-bench-an-") as tmp:
        run = Path(tmp) / "run"
        shutil.copytree(args.recording, run, ignore=shutil.ignore_patterns("fc", "analysis"))
        t0 = time.perf_counter()
        compute_run(run, conditions=args.condition, null="exact", candidates=args.candidates,
                    backend="numpy", restart=True)  # the copy's manifest still lists the edges
        t_fc = time.perf_counter() - t0
        config = AnalysisConfig(max_neurons=args.max_neurons,
                                conditions=tuple(c for c in args.condition or () if c != "clean")
                                or None)
        t0 = time.perf_counter()
        analysis = analyze_run(run, config)
        t_an = time.perf_counter() - t0
    result = {"recording": str(args.recording), "conditions": args.condition or "all",
              "candidates": args.candidates, "max_neurons": args.max_neurons,
              "fc_seconds": round(t_fc, 2), "analysis_seconds": round(t_an, 2),
              "ratio_analysis_to_fc": round(t_an / t_fc, 3), "goal": "ratio < 1",
              "findings": {f["id"]: f["supported"] for f in analysis["findings"]},
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
