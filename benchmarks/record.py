"""Recording cost: `fcgraph record` (clean condition) against bare inference of the same images.

In one run, on the same model, images and batch size:
  - bare: the model's eval-mode forward under no_grad, no hooks, nothing kept (best of --repeat);
  - record: the recording loop of `fcgraph.record.record` for the clean condition (spikes of
    every layer hooked, bit-packed and written), as the manifest reports it (best of --repeat);
    goal: at most 1.5x bare;
  - peak memory: a fresh process records --n-images and, for comparison, a quarter of them;
    its peak RSS (ru_maxrss) should not grow with the number of images.

Needs a checkpoint: --checkpoint (default runs/sew-small-digits); when it is missing, sew-small is
trained there on digits with the default settings (8 epochs), and that figure is reported too.

    .venv/bin/python benchmarks/record.py [--checkpoint runs/sew-small-digits] [--n-images 1797]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from fcgraph.datasets import load_dataset
from fcgraph.models import TrainConfig, load_checkpoint, train
from fcgraph.record import open_recording, record


def train_if_missing(path: Path) -> dict | None:
    if (path / "config.json").exists():
        return None
    began = time.perf_counter()
    result = train(TrainConfig(architecture="sew-small", dataset="digits"), path,
                   on_epoch=lambda r: print(f"  epoch {r['epoch']}: test {r['test_accuracy']:.3f} "
                                            f"({r['seconds']:.1f} s)", flush=True))
    return {"command": f"fcgraph train --model sew-small --dataset digits --out {path}",
            "epochs": result["metrics"]["epochs_done"],
            "test_accuracy": result["metrics"]["test_accuracy"],
            "train_seconds": result["metrics"]["train_seconds"],
            "wall_seconds": time.perf_counter() - began}


def bare_seconds(checkpoint: Path, n_images: int, split: str, batch_size: int) -> float:
    model, config = load_checkpoint(checkpoint)
    data = load_dataset(config.dataset, split, split_seed=config.split_seed).first(n_images)
    batches = list(data.batches(batch_size))
    began = time.perf_counter()
    with torch.no_grad():
        for images, _ in batches:
            model(images).argmax(1)
    return time.perf_counter() - began


def record_seconds(checkpoint: Path, n_images: int, split: str, batch_size: int) -> float:
    with tempfile.TemporaryDirectory(prefix="fcgraph-bench-") as tmp:
        record(checkpoint, Path(tmp) / "rec", ["clean"], n_images, split=split, batch_size=batch_size)
        return float(open_recording(Path(tmp) / "rec").condition_info("clean")["seconds"])


def peak_rss_mib(checkpoint: Path, n_images: int, split: str, batch_size: int) -> float:
    """Peak RSS of a fresh process that records the clean condition of ``n_images``."""
    code = ("import resource, sys, tempfile, pathlib\n"
            "from fcgraph.record import record\n"
            "tmp = tempfile.mkdtemp(prefix='fcgraph-bench-')\n"
            f"record(pathlib.Path({str(checkpoint)!r}), pathlib.Path(tmp) / 'rec', ['clean'], {n_images}, "
            f"split={split!r}, batch_size={batch_size})\n"
            "import shutil; shutil.rmtree(tmp)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/sew-small-digits"))
    parser.add_argument("--n-images", type=int, default=1797)
    parser.add_argument("--split", default="all")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/record.json"))
    args = parser.parse_args()
    training = train_if_missing(args.checkpoint)
    n, split, bs = args.n_images, args.split, args.batch_size
    bare_seconds(args.checkpoint, min(n, 128), split, bs)  # warm-up
    bare = min(bare_seconds(args.checkpoint, n, split, bs) for _ in range(args.repeat))
    rec = min(record_seconds(args.checkpoint, n, split, bs) for _ in range(args.repeat))
    small = max(n // 4, bs)
    result = {
        "checkpoint": str(args.checkpoint), "n_images": n, "split": split, "batch_size": bs,
        "T": load_checkpoint(args.checkpoint)[1].model.T,
        "seconds": {"bare inference": bare, "record (clean)": rec},
        "ratio record / bare": rec / bare,
        "peak_rss_mib": {str(small): peak_rss_mib(args.checkpoint, small, split, bs),
                         str(n): peak_rss_mib(args.checkpoint, n, split, bs)},
        "command": f"fcgraph record {args.checkpoint} --out REC --split {split} --n-images {n} "
                   f"-c clean --batch-size {bs}",
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    if training:
        result["training"] = training
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
