"""Cost of running ``fcgraph fc`` on a Dask cluster, as a ratio to the in-process run measured in
the same run (issue 17).

One condition of a recording (default: the demo's ``clean``) is copied to a temporary folder
(the recording itself is only read) and computed end to end by ``compute_run`` twice per round,
in ``--repeat`` interleaved rounds (best of each, default 2; the load of a shared machine moves
both alike):

- in-process (NumPy, the BLAS threads of this process);
- on a local cluster of ``--workers`` (default 2) worker processes x 1 thread, started before
  the first round (its start-up is timed apart) and its workers restarted before each round
  (untimed; nothing kept from the round before): one task per layer pair. Goal: within 1.15x
  of in-process, with the same cores.

Each run's ``features_reused``: the layer pairs whose pre layer's exact-null features were
handed on from the pair before (the relay in-process; a worker's kept features on Dask).

The two runs' edge tables are compared byte for byte (the benchmark fails if they differ).
Then the cost of one unit (the condition's largest layer pair, as a Dask task on the cluster)
as its tile (post neurons per block) grows, and the round trip of an empty Dask task.

    .venv/bin/python benchmarks/distributed.py                   # demo recording, clean
    .venv/bin/python benchmarks/distributed.py --quick           # one round, one tile size
    .venv/bin/python benchmarks/distributed.py --recording DIR -c CONDITION
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# this script's name is the Dask package's: its folder off the path, so `import distributed` is Dask
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
RESULTS = HERE / "results" / "distributed.json"
DEMO = HERE.parent / "runs" / "demo" / "recording"


def machine() -> str:
    return f"{platform.node()} {os.cpu_count()} cores"


def copy_condition(recording: Path, condition: str, out: Path) -> Path:
    """The files fc reads for ``condition`` (manifest, labels, its spike files), copied to ``out``,
    the manifest cut down to that condition (its fc section stays: compute_run restarts fc)."""
    from fcgraph.contract import read_manifest
    from fcgraph.run_folder import RunFolder

    src, dst = RunFolder(recording), RunFolder(out)
    out.mkdir(parents=True)
    data = json.loads((src.root / "manifest.json").read_text())
    data["conditions"] = [c for c in data["conditions"] if c["name"] == condition]
    data["recording"]["conditions"] = {condition: data["recording"]["conditions"][condition]}
    (dst.root / "manifest.json").write_text(json.dumps(data, indent=2) + "\n")
    shutil.copy2(src.labels, dst.labels)
    dst.spikes(condition).mkdir(parents=True)
    for name in [la.name for la in read_manifest(recording).layers]:
        shutil.copy2(src.bits(condition, name), dst.bits(condition, name))
    if src.predictions(condition).exists():
        shutil.copy2(src.predictions(condition), dst.predictions(condition))
    return out


def run_once(folder: Path, condition: str, pairs: str, **where: Any) -> tuple[float, int]:
    """Seconds of one run, and its layer pairs that got their pre layer's features handed on."""
    from fcgraph.fc.run import compute_run

    t0 = time.perf_counter()
    got = compute_run(folder, conditions=[condition], backend="numpy", restart=True, pairs=pairs,
                      **where)
    return time.perf_counter() - t0, int(got.attrs.get("features_reused", 0))


def unit_cost(client: Any, folder: Path, condition: str, k: int, pre: str, post: str,
              tiles: list[int], pairs: str) -> dict[str, float]:
    """Seconds of one layer pair as a Dask task on ``client``, per tile size."""
    from fcgraph.fc.run import pair_unit
    from fcgraph.fc.settings import FcParams

    params = FcParams.create(pairs=pairs)
    out = {}
    for tile in tiles:
        t0 = time.perf_counter()
        client.submit(pair_unit, str(folder), params, ("numpy", ""), tile, condition, k, pre, post,
                      pure=False).result()
        out[str(tile)] = time.perf_counter() - t0
    return out


def empty_task_seconds(client: Any, n: int = 20) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        client.submit(int, i, pure=False).result()
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recording", type=Path, default=DEMO)
    parser.add_argument("-c", "--condition", default="clean")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one round and one tile size")
    parser.add_argument("--tiles", default="256,1024,4096")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from fcgraph.contract import read_manifest
    from fcgraph.run_folder import layer_pairs

    if args.quick:
        args.repeat, args.tiles = 1, "1024"
    pairs_setting = "consecutive"
    tmp = Path(tempfile.mkdtemp(prefix="fcgraph-bench-dask-"))
    try:
        inproc = copy_condition(args.recording, args.condition, tmp / "inproc")
        dask = copy_condition(args.recording, args.condition, tmp / "dask")
        manifest = read_manifest(inproc)
        all_pairs = layer_pairs(manifest.layers, pairs_setting)
        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None,
                               scheduler_kwargs={"dashboard": False})
        client = Client(cluster)
        client.wait_for_workers(args.workers)
        startup = time.perf_counter() - t0
        rounds: dict[str, list[float]] = {"in-process": [], "dask": []}
        reused: dict[str, list[int]] = {"in-process": [], "dask": []}
        for _ in range(args.repeat):
            for name, folder, where in (("in-process", inproc, {}),
                                        ("dask", dask, {"scheduler": cluster.scheduler_address})):
                if where:
                    client.restart()  # no features kept from the round before
                seconds, n = run_once(folder, args.condition, pairs_setting, **where)
                rounds[name].append(seconds)
                reused[name].append(n)
        edges = [f.relative_to(inproc) for f in sorted((inproc / "fc" / "edges").glob("*.parquet"))]
        same = all((inproc / f).read_bytes() == (dask / f).read_bytes() for f in edges)
        if not same:
            raise SystemExit("the edge tables differ between in-process and Dask")
        sizes = {la.name: la.n_neurons for la in manifest.layers}
        k = max(range(len(all_pairs)), key=lambda i: sizes[all_pairs[i][0]] * sizes[all_pairs[i][1]])
        pre, post = all_pairs[k]
        tiles = [int(t) for t in args.tiles.split(",")]
        units = unit_cost(client, dask, args.condition, k, pre, post, tiles, pairs_setting)
        empty = empty_task_seconds(client)
        client.close()
        cluster.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    best = {name: min(times) for name, times in rounds.items()}
    rel = args.recording.resolve()
    with contextlib.suppress(ValueError):
        rel = rel.relative_to(HERE.parent)
    data = {
        "what": f"recording {rel} condition {args.condition}: {len(all_pairs)} layer pairs "
                f"({', '.join(f'{a}->{b}' for a, b in all_pairs)})",
        "quick": args.quick,
        "workers": f"{args.workers} x 1 thread (local cluster)",
        "seconds": {"in-process": best["in-process"], f"dask, {args.workers} workers": best["dask"],
                    "cluster start-up (not in the dask figure)": startup},
        "ratios": {"dask / in-process": best["dask"] / best["in-process"]},
        "goal": "dask / in-process <= 1.15",
        "rounds": rounds,
        "features_reused (layer pairs, per round)": reused,
        "edge tables identical": same,
        "one unit": {"layer pair": f"{pre}->{post}", "seconds by tile": units,
                     "empty Dask task round trip (s)": empty},
        "command": "benchmarks/distributed.py" + (" --quick" if args.quick else "")
                   + (f" --recording {rel} -c {args.condition}" if args.recording != DEMO else ""),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps({k: data[k] for k in ("seconds", "ratios", "features_reused (layer pairs, per round)",
                                            "one unit")}, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
