"""CPU cost of the significance nulls for one layer pair, as ratios measured in one run.

Random trains (rates 2-15%, a shared within-image phase) for an N x N layer pair over L bins:
  - baseline: 100 float32 NumPy products (N x L) @ (L x N), the hardware's limit for a
    100-shift null computed as products;
  - `shift_null(..., n_shifts=100)` (whole-image shifts): goal within 1.1x of the baseline;
  - `exact_null(over="bins")` and `exact_null(over="images")`: goals at least 30x and 10x
    faster than the 100-shift null.

    .venv/bin/python benchmarks/fc.py [--neurons 1024] [--bins 8000] [--T 8] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from fcgraph.fc import exact_null, shift_null


def trains(rng: np.random.Generator, n: int, L: int, T: int) -> np.ndarray:
    """(n, L) booleans: per-neuron rates 2-15%, silent at each image's first step."""
    rates = rng.uniform(0.02, 0.15, size=(n, 1))
    x = rng.random((n, L)) < rates
    x[:, ::T] = False
    return x


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1024)
    parser.add_argument("--bins", type=int, default=8000)
    parser.add_argument("--T", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/fc.json"))
    args = parser.parse_args()
    n, L, T = args.neurons, args.bins - args.bins % args.T, args.T
    rng = np.random.default_rng(0)
    pre, post = trains(rng, n, L, T), trains(rng, n, L, T)
    a32, b32 = pre.astype(np.float32), post.astype(np.float32)

    def gemms() -> None:
        for _ in range(100):
            a32 @ b32.T

    results = {
        "100 float32 products (baseline)": best_of(args.repeat, gemms),
        "shift_null, 100 whole-image shifts": best_of(
            args.repeat, lambda: shift_null(pre, post, T=T, n_shifts=100, measure="cofire")),
        "exact_null over all bin shifts": best_of(
            args.repeat, lambda: exact_null(pre, post, T=T, over="bins")),
        "exact_null over all whole-image shifts": best_of(
            args.repeat, lambda: exact_null(pre, post, T=T, over="images")),
    }
    base = results["100 float32 products (baseline)"]
    shifted = results["shift_null, 100 whole-image shifts"]
    flops = 100 * 2.0 * n * n * L
    print(f"{n} x {n} neurons, L = {L} bins (T = {T}); best of {args.repeat}")
    print(f"  {'100 float32 products (baseline)':<40} {base:7.2f} s  ({flops / base / 1e9:.0f} GFLOP/s)")
    print(f"  {'shift_null, 100 whole-image shifts':<40} {shifted:7.2f} s  "
          f"{shifted / base:5.2f}x the baseline (goal <= 1.1x)")
    for key, goal in (("exact_null over all bin shifts", 30), ("exact_null over all whole-image shifts", 10)):
        print(f"  {key:<40} {results[key]:7.2f} s  {shifted / results[key]:5.1f}x faster than "
              f"100 shifts (goal >= {goal}x)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"neurons": n, "bins": L, "T": T, "seconds": results,
                                    "machine": f"{platform.node()} {os.cpu_count()} cores",
                                    "date": time.strftime("%Y-%m-%d %H:%M")}, indent=2) + "\n")


if __name__ == "__main__":
    main()
