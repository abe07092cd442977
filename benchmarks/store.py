"""Cost of a run folder at a URL (``s3://``) against the same run on a local folder, in one run.

A synthetic recording (random spikes, rate 0.2, T = 4, one condition ``clean``; by default three
layers of 1024, 2048 and 1024 neurons and 300 images, sized so that ``compute_run`` takes about
20-30 s on the project's 2-core machine) is written once to a scratch folder. Then, in
``--repeat`` interleaved rounds (default 2; best of each):

- **local**: the recording copied to a fresh folder (untimed), ``compute_run(folder,
  backend="numpy", restart=True)``: the baseline;
- **url**: the recording uploaded to a fresh prefix of the S3 bucket (the upload timed apart,
  reported, not in the ratio), then ``compute_run(url, backend="numpy", restart=True)`` with a
  fresh, empty ``FCGRAPH_MIRROR_DIR``: the mirror pulls what the store holds, fetches the spikes
  when they are opened, and pushes each part as it is written and the rest at the end
  (:mod:`fcgraph.mirror`): what a new machine pays;
- **url, finished**: the same URL again with another fresh mirror, every layer pair done: the
  cost of finding a finished run (all pairs resumed).

The ratio is url / local. Bytes and files fetched (the store's objects found in the mirror after
the run) and sent (the store's objects new or changed by the run) are counted from listings, not
from the wire. The edge tables in the store (``fc/edges/*.parquet``) are compared byte for byte
with the local run's: the benchmark fails if they differ.

The S3 server is S3Proxy on 127.0.0.1 (Java, its objects in a temporary folder), started by the
tests' helper ``tests/helpers/s3.py`` (``running_s3proxy``; this script puts the repository root on
``sys.path`` to import it): it runs on the same machine, so the figures are the mirror's own cost
(listing, copying, syncing records, the S3 protocol), not a network's. It needs S3Proxy's jars in
``.test-services/s3proxy/lib``, Java and s3fs: ``scripts/setup.sh`` installs them.

    .venv/bin/python benchmarks/store.py                 # 2 rounds, ~3 min on 2 cores
    .venv/bin/python benchmarks/store.py --quick         # one round, a small recording
    .venv/bin/python benchmarks/store.py --layers 512,1024,512 --images 200 --repeat 3
"""

from __future__ import annotations

import argparse
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
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.helpers.s3: the tests' S3Proxy
RESULTS = HERE / "results" / "store.json"
CONDITION = "clean"
T = 4
RATE = 0.2


def machine() -> str:
    return f"{platform.node()} {os.cpu_count()} cores"


def make_recording(root: Path, sizes: list[int], n_images: int, seed: int = 0) -> Path:
    """A recording of random spikes: one layer of ``n`` neurons per size, one condition."""
    import numpy as np

    from fcgraph.analysis.synthetic import write_recording

    rng = np.random.default_rng(seed)
    layers = [(f"l{i}", (n,)) for i, n in enumerate(sizes)]
    spikes = {CONDITION: {name: rng.random((shape[0], T * n_images)) < RATE for name, shape in layers}}
    write_recording(root, "store-bench", layers, T, np.zeros(n_images, dtype=np.int64), spikes)
    return root


def local_files(folder: Path) -> dict[str, int]:
    """``{relative path: bytes}`` of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def store_files(fs: Any, url: str) -> dict[str, tuple[int, str]]:
    """``{relative path: (bytes, ETag)}`` of every object under ``url``."""
    base = url[len("s3://"):]
    found = fs.find(base, detail=True)
    return {k[len(base) + 1:]: (int(v["size"]), str(v.get("ETag", ""))) for k, v in found.items()}


def upload(fs: Any, folder: Path, url: str) -> None:
    base = url[len("s3://"):]
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        fs.put_file(str(path), f"{base}/{path.relative_to(folder).as_posix()}")


def fresh_mirror(folder: Path) -> None:
    """Later mirrors of ``url`` in this process under the new, empty ``folder``: a new machine's
    (``FCGRAPH_MIRROR_DIR``, read each time a mirror is opened)."""
    folder.mkdir(parents=True)
    os.environ["FCGRAPH_MIRROR_DIR"] = str(folder)


def mirror_files(folder: Path) -> dict[str, int]:
    """The run folder's files in the (single) mirror under ``folder``."""
    found = [p / "files" for p in folder.iterdir() if (p / "files").is_dir()]
    return local_files(found[0]) if found else {}


def run(where: str | Path, restart: bool) -> tuple[float, int]:
    """Seconds of ``compute_run``, and the layer pairs it resumed."""
    from fcgraph.fc.run import compute_run

    t0 = time.perf_counter()
    got = compute_run(where, backend="numpy", restart=restart)
    return time.perf_counter() - t0, int(got.resumed.sum())


def traffic(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]],
            mirrored: dict[str, int]) -> dict[str, int]:
    """Files and bytes fetched (objects of the store before the run, found in the fresh mirror)
    and sent (objects new or changed in the store)."""
    fetched = [k for k in before if k in mirrored]
    sent = [k for k, v in after.items() if before.get(k) != v]
    return {"files fetched": len(fetched), "bytes fetched": sum(before[k][0] for k in fetched),
            "files sent": len(sent), "bytes sent": sum(after[k][0] for k in sent)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", default="1024,2048,1024", help="neurons per layer")
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="one round, a small recording (256,512,256 neurons, 100 images)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.layers, args.images = 1, "256,512,256", 100

    from tests.helpers.s3 import missing_reason, running_s3proxy

    reason = missing_reason()
    if reason is not None:
        raise SystemExit(f"benchmarks/store.py needs the tests' S3 server: {reason}; run scripts/setup.sh")

    sizes = [int(n) for n in args.layers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="fcgraph-bench-store-"))
    saved_mirror_dir = os.environ.get("FCGRAPH_MIRROR_DIR")
    rounds: dict[str, list[float]] = {"local": [], "url": [], "url, finished": [], "upload": []}
    resumed: dict[str, list[int]] = {"local": [], "url": [], "url, finished": []}
    moved: dict[str, dict[str, int]] = {}
    try:
        recording = make_recording(tmp / "recording", sizes, args.images)
        rec_files = local_files(recording)
        rec_bytes = sum(rec_files.values())
        print(f"recording: {len(sizes)} layers ({args.layers} neurons), {args.images} images, T = {T}: "
              f"{len(rec_files)} files, {rec_bytes / 1e6:.2f} MB", flush=True)
        (tmp / "s3").mkdir()
        with running_s3proxy(tmp / "s3") as s3:
            fs = s3.fs()
            for r in range(args.repeat):
                local = tmp / f"local-{r}"
                shutil.copytree(recording, local)
                seconds, n = run(local, restart=True)
                rounds["local"].append(seconds)
                resumed["local"].append(n)

                url = s3.url("store-bench")
                t0 = time.perf_counter()
                upload(fs, recording, url)
                rounds["upload"].append(time.perf_counter() - t0)
                before = store_files(fs, url)
                fresh_mirror(tmp / f"mirror-{r}")
                seconds, n = run(url, restart=True)
                rounds["url"].append(seconds)
                resumed["url"].append(n)
                after = store_files(fs, url)
                moved["url"] = traffic(before, after, mirror_files(tmp / f"mirror-{r}"))

                fresh_mirror(tmp / f"mirror-{r}-again")
                seconds, n = run(url, restart=False)
                rounds["url, finished"].append(seconds)
                resumed["url, finished"].append(n)
                moved["url, finished"] = traffic(after, store_files(fs, url),
                                                 mirror_files(tmp / f"mirror-{r}-again"))
                print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in rounds.items()),
                      flush=True)

                edges = sorted(k for k in local_files(local) if k.startswith("fc/edges/"))
                stored = sorted(k for k in after if k.startswith("fc/edges/"))
                same = bool(edges) and edges == stored and all(
                    fs.cat_file(f"{url[len('s3://'):]}/{k}") == (local / k).read_bytes() for k in edges)
                if not same:
                    raise SystemExit(f"the edge tables in {url} differ from the local run's "
                                     f"(local: {edges}, store: {stored})")
                local_set, store_set = set(local_files(local)), set(after)
                only = {"only local": sorted(local_set - store_set),
                        "only in the store": sorted(store_set - local_set)}
            store_total = {"files": len(after), "bytes": sum(v[0] for v in after.values())}
    finally:
        if saved_mirror_dir is None:
            os.environ.pop("FCGRAPH_MIRROR_DIR", None)
        else:
            os.environ["FCGRAPH_MIRROR_DIR"] = saved_mirror_dir
        shutil.rmtree(tmp, ignore_errors=True)

    best = {k: min(v) for k, v in rounds.items()}
    data = {
        "what": f"synthetic recording, condition {CONDITION}: {len(sizes)} layers of {args.layers} neurons, "
                f"{args.images} images, T = {T}, spike rate {RATE}; compute_run(backend='numpy'); "
                "S3Proxy on 127.0.0.1 (same machine: the mirror's cost, not a network's)",
        "quick": args.quick,
        "recording": {"files": len(rec_files), "MB": round(rec_bytes / 1e6, 3)},
        "seconds": {"local folder": best["local"], "url, fresh mirror": best["url"],
                    "url, finished run, fresh mirror": best["url, finished"],
                    "upload of the recording (not in the ratio)": best["upload"]},
        "ratios": {"url / local": best["url"] / best["local"],
                   "url finished / local": best["url, finished"] / best["local"]},
        "traffic (last round)": moved,
        "store after the run": store_total,
        "rounds": rounds,
        "resumed layer pairs (per round)": resumed,
        "edge tables identical": True,
        "file sets (last round)": only,
        "command": "benchmarks/store.py" + (" --quick" if args.quick else "")
                   + ("" if args.quick or (args.layers, args.images) == ("1024,2048,1024", 300)
                      else f" --layers {args.layers} --images {args.images}")
                   + ("" if args.quick or args.repeat == 2 else f" --repeat {args.repeat}"),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps({k: data[k] for k in ("seconds", "ratios", "traffic (last round)",
                                            "resumed layer pairs (per round)", "file sets (last round)")},
                     indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
