"""False-edge rate of fc's edge rules on a recording's negative control, and their cost.

For every consecutive layer pair of one condition (read only; nothing is written into the
recording), with the exact whole-image null and nominal z (default 3, rate 0.00135):

- the real pairs once (the pure normal rule, z >= nominal z; the control rule's edges are
  those of them with z >= its threshold, the engine being the same);
- the control rule's threshold (:func:`fcgraph.fc.threshold.control_threshold`, draws 1 ..,
  as many as fc pools by default);
- INDEPENDENT control draws (ids from 1000; enough to test ``--check-pairs`` pairs, default
  4e7, 2 to 32 draws): the false-edge rate of both rules on each, divided by the nominal
  rate; the promise is a mean ratio <= 1.5 in every layer pair (min and max over the draws
  are kept too: one draw's rate varies several-fold in image-selective layers).

Cost: the normal rule is one pass over the real pairs; the control rule adds its draws
(``--end-to-end`` also times ``compute_run`` with each rule on a copy of the recording in a
temporary folder; ``--only-end-to-end`` only that, added to the label's saved figures).
Results go under ``--label`` in benchmarks/results/false_edges.json.

    .venv/bin/python benchmarks/false_edges.py runs/demo/recording --label demo --end-to-end
    .venv/bin/python benchmarks/false_edges.py /tmp/rec1797 --label digits-1797 \
        --check-pairs 20000000 --small-first
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
from typing import Any

import numpy as np

from fcgraph.fc import significant_edges
from fcgraph.fc.calibration import control_trains
from fcgraph.fc.run import compute_run
from fcgraph.fc.stats import normal_upper_tail
from fcgraph.fc.threshold import control_threshold, n_draws
from fcgraph.record import open_recording
from fcgraph.run_folder import layer_pairs

RESULTS = Path(__file__).resolve().parent / "results" / "false_edges.json"
PROMISE = 1.5
#: The first of the independent control draws the promise is checked on (the threshold's
#: draws are 1 .. 16, calibrate's is 0).
CHECK_DRAW = 1000


def z_at_least(pre: Any, post: Any, *, T: int, z: float, backend: str) -> tuple[np.ndarray, int,
                                                                               float]:
    """The z of every pair with z >= ``z`` (float64, descending), the tested pairs, seconds."""
    parts: list[np.ndarray] = []
    t0 = time.perf_counter()
    _, report = significant_edges(pre, post, T=T, z=z, null="exact", backend=backend,
                                  sink=lambda table: parts.append(table.column("z").to_numpy()))
    seconds = time.perf_counter() - t0
    values = np.sort(np.concatenate(parts) if parts else np.empty(0))[::-1]
    return values, int(report["tested"]), seconds


def rate(values: np.ndarray, tested: int, threshold: float) -> float | None:
    """Share of the tested pairs whose z (``values``: every z >= some lower bound) reaches it."""
    return int(np.count_nonzero(values >= threshold)) / tested if tested else None


def ratio(share: float | None, nominal: float) -> float | None:
    return None if share is None else share / nominal


def check_draws(tested: int, check_pairs: int) -> int:
    """Independent draws the promise is checked on: enough to test ``check_pairs``, 2 to 32."""
    return max(2, n_draws(tested, control_pairs=check_pairs, max_draws=32))


def measure_pair(rec: Any, condition: str, pre: str, post: str, *, z: float, backend: str,
                 check_pairs: int = 40_000_000) -> dict[str, Any]:
    """One layer pair's figures (module docstring)."""
    nominal = float(normal_upper_tail(z))
    a, b = rec.packed(condition, pre), rec.packed(condition, post)
    real, tested, t_main = z_at_least(a, b, T=rec.T, z=z, backend=backend)
    t0 = time.perf_counter()
    fit = control_threshold(a, b, T=rec.T, z=z, null="exact", backend=backend)
    t_control = time.perf_counter() - t0
    threshold = fit["z"]
    normal, control = [], []
    for draw in range(CHECK_DRAW, CHECK_DRAW + check_draws(tested, check_pairs)):
        post_d, _ = control_trains(b, T=rec.T, seed=0, draw=draw)
        check, n, _ = z_at_least(a, post_d, T=rec.T, z=z, backend=backend)
        normal.append(ratio(rate(check, n, z), nominal))
        control.append(ratio(rate(check, n, threshold), nominal))
    return {
        "pre_layer": pre, "post_layer": post, "tested": tested,
        "normal": {"z": z, "edges": int(real.size), **_ratios(normal),
                   "ratio_fit_draws": ratio(fit["normal_rate"], nominal)},
        "control": {"z": threshold, "draws": fit["draws"],
                    "edges": int(np.count_nonzero(real >= threshold)), **_ratios(control),
                    "ratio_fit_draws": ratio(fit["control_rate"], nominal)},
        "seconds": {"real pairs": round(t_main, 3), "control threshold": round(t_control, 3)},
    }


def _ratios(values: list[float | None]) -> dict[str, Any]:
    """Mean, min, max and every value of false-edge rate / nominal over the check draws."""
    got = [v for v in values if v is not None]
    if not got:
        return {"ratio": None, "ratio_min": None, "ratio_max": None, "ratio_draws": []}
    return {"ratio": float(np.mean(got)), "ratio_min": min(got), "ratio_max": max(got),
            "ratio_draws": [round(v, 3) for v in got]}


def end_to_end(recording: Path, condition: str, backend: str) -> dict[str, float]:
    """Seconds of ``compute_run`` with each rule, on a copy of the recording's spikes."""
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="false-edges-") as tmp:
        copy = Path(tmp) / "rec"
        shutil.copytree(recording, copy, ignore=shutil.ignore_patterns("fc", "analysis"))
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest.pop("fc", None)
        manifest.pop("analysis", None)
        (copy / "manifest.json").write_text(json.dumps(manifest))
        for rule in ("normal", "control"):
            t0 = time.perf_counter()
            compute_run(copy, conditions=[condition], null="exact", threshold=rule,
                        backend=backend, restart=True)
            seconds[rule] = round(time.perf_counter() - t0, 3)
    return seconds


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Worst ratios over the layer pairs, edge totals and the cost ratio of the two rules."""
    def worst(rule: str) -> float:
        return max(r[rule]["ratio"] for r in rows if r[rule]["ratio"] is not None)

    main = sum(r["seconds"]["real pairs"] for r in rows)
    extra = sum(r["seconds"]["control threshold"] for r in rows)
    return {"worst_mean_ratio": {"normal": worst("normal"), "control": worst("control")},
            "promise_kept": {"normal": worst("normal") <= PROMISE,
                             "control": worst("control") <= PROMISE},
            "edges": {"normal": sum(r["normal"]["edges"] for r in rows),
                      "control": sum(r["control"]["edges"] for r in rows)},
            "cost_ratio_control_over_normal": round((main + extra) / main, 3)}


def save(label: str, data: dict[str, Any], out: Path) -> None:
    """Write ``data`` under ``label`` of the results file, keeping the other labels."""
    old = json.loads(out.read_text()) if out.exists() else {}
    old[label] = {**data, "machine": f"{platform.node()} {os.cpu_count()} cores",
                  "date": time.strftime("%Y-%m-%d %H:%M")}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(old, indent=2) + "\n")
    print(f"written to {out} [{label}]")


def add_end_to_end(args: argparse.Namespace) -> None:
    """Time compute_run with each rule and add it to the figures saved under the label."""
    saved = json.loads(args.out.read_text()) if args.out.exists() else {}
    data = {k: v for k, v in saved.get(args.label, {}).items() if k not in ("machine", "date")}
    seconds = end_to_end(Path(args.recording), args.condition, args.backend)
    data["end_to_end_seconds"] = {**seconds, "ratio": round(seconds["control"] /
                                                            seconds["normal"], 3)}
    print("compute_run:", data["end_to_end_seconds"])
    save(args.label, data, args.out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recording", type=Path)
    parser.add_argument("-c", "--condition", default="clean")
    parser.add_argument("--label", default="recording")
    parser.add_argument("--z", type=float, default=3.0)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--check-pairs", type=int, default=40_000_000,
                        help="pairs the independent check draws test per layer pair (2-32 draws)")
    parser.add_argument("--end-to-end", action="store_true",
                        help="also time compute_run with each rule on a temporary copy")
    parser.add_argument("--small-first", action="store_true",
                        help="last layer pair first (partial results are saved after each pair)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only-end-to-end", action="store_true",
                        help="only time compute_run, added to the label's saved figures")
    args = parser.parse_args()
    if args.only_end_to_end:
        add_end_to_end(args)
        return
    rec = open_recording(args.recording)
    rows = []
    print(f"{args.recording}: {rec.n_images} images, condition {args.condition}, z = {args.z} "
          f"(nominal {normal_upper_tail(args.z):.5f}); ratios: mean false-edge rate over "
          "independent draws / nominal")
    data: dict[str, Any] = {"recording": str(args.recording), "condition": args.condition,
                            "n_images": rec.n_images, "T": rec.T, "z": args.z,
                            "nominal_rate": float(normal_upper_tail(args.z)),
                            "backend": args.backend, "check_pairs": args.check_pairs}
    pairs = layer_pairs(rec.layers)[::-1] if args.small_first else layer_pairs(rec.layers)
    for pre, post in pairs:
        row = measure_pair(rec, args.condition, pre, post, z=args.z, backend=args.backend,
                           check_pairs=args.check_pairs)
        rows.append(row)
        done = len(rows) == len(pairs)
        save(args.label, {**data, "complete": done, "summary": summarise(rows),
                          "layer_pairs": rows}, args.out)  # after each pair: a partial result
        n, c = row["normal"], row["control"]
        print(f"  {pre:>13} -> {post:<13} normal {n['ratio']:5.2f}x ({n['edges']:>9,} edges)"
              f"  control z {c['z']:.3f} ({c['draws']:2d} draws): {c['ratio']:5.2f}x "
              f"[{c['ratio_min']:.2f}-{c['ratio_max']:.2f} over {len(c['ratio_draws'])}] "
              f"({c['edges']:>9,} edges)  {row['seconds']['real pairs']:.1f} s + "
              f"{row['seconds']['control threshold']:.1f} s")
    data.update(complete=True, summary=summarise(rows), layer_pairs=rows)
    if args.end_to_end:
        seconds = end_to_end(Path(args.recording), args.condition, args.backend)
        data["end_to_end_seconds"] = {**seconds, "ratio": round(seconds["control"] /
                                                                seconds["normal"], 3)}
    print(json.dumps(data["summary"], indent=2))
    if args.end_to_end:
        print("compute_run:", data["end_to_end_seconds"])
    save(args.label, data, args.out)


if __name__ == "__main__":
    main()
