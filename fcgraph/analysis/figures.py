"""Figures of an analysis (matplotlib, Agg backend), each written as PNG and SVG.

- ``io_curves``: per layer, example response curves P(spike | k) with their threshold-linear fit;
- ``gain_vs_size``: fitted gain against group size, one panel per layer;
- ``decoding``: event vs average read-out accuracy per layer with CIs and the shuffle level;
- ``edge_loss``: clean edges lost (fraction), layer pair x condition heat map;
- ``controls``: the trained network against its controls -- each finding's contrast with every
  control network (CI), finding 2's contrast per layer, and finding 4's disruption beyond the
  reliability floor per layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fcgraph.analysis.findings import CONTRASTS  # noqa: E402
from fcgraph.io import atomic_write  # noqa: E402


def _save(fig: Any, folder: Path, name: str) -> list[str]:
    out = []
    for ext in ("png", "svg"):
        atomic_write(folder / f"{name}.{ext}",
                     lambda fh, ext=ext: fig.savefig(fh, format=ext, dpi=110, bbox_inches="tight"))
        out.append(f"figures/{name}.{ext}")
    plt.close(fig)
    return out


def _relu(k: np.ndarray, b: float, g: float, theta: float) -> np.ndarray:
    return b + g * np.maximum(0.0, k - theta)


def make_figures(analysis: dict[str, Any], folder: Path, neurons_path: Path) -> list[str]:
    """Draw the five figures into ``folder`` from ``analysis`` and the per-neuron table at
    ``neurons_path``; returns their paths relative to ``analysis/``."""
    folder = Path(folder)
    layers = analysis["layers"]
    neurons = pd.read_parquet(neurons_path) if neurons_path.exists() else pd.DataFrame()
    clean = neurons[(neurons["condition"] == "clean") & neurons["analysed"]] if len(neurons) \
        else neurons
    files: list[str] = []
    n = max(len(layers), 1)

    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3), squeeze=False)
    for ax, la in zip(axes[0], layers, strict=False):
        for j, curve in list(la.get("curves", {}).items())[:4]:
            k, p = np.asarray(curve["k"], float), np.asarray(curve["p"], float)
            line = ax.plot(k, p, "o", ms=3, alpha=0.7)[0]
            row = clean[(clean["layer"] == la["post_layer"]) & (clean["idx"] == int(j))] \
                if len(clean) else clean
            if len(row) and np.isfinite(row["gain"].iloc[0]):
                kk = np.linspace(k.min(), k.max(), 100)
                ax.plot(kk, _relu(kk, row["baseline"].iloc[0], row["gain"].iloc[0],
                                  row["threshold"].iloc[0]), color=line.get_color())
        ax.set_title(la["post_layer"], fontsize=9)
        ax.set_xlabel("group members cofiring k")
    axes[0][0].set_ylabel("P(spike | k)")
    fig.suptitle("Input-output curves with threshold-linear fits", fontsize=10)
    files += _save(fig, folder, "io_curves")

    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3), squeeze=False)
    for ax, la in zip(axes[0], layers, strict=False):
        sub = clean[clean["layer"] == la["post_layer"]] if len(clean) else clean
        if len(sub):
            ax.errorbar(sub["group_size"], sub["gain"],
                        yerr=[np.clip(sub["gain"] - sub["gain_lo"], 0, None),
                              np.clip(sub["gain_hi"] - sub["gain"], 0, None)],
                        fmt="o", ms=3, alpha=0.6, elinewidth=0.5)
        g = la["io"]["gain_vs_size"]
        rho = "n/a" if g.get("rho") is None else f"{g['rho']:.2f}"
        ax.set_title(f"{la['post_layer']} (rho {rho})", fontsize=9)
        ax.set_xlabel("group size")
    axes[0][0].set_ylabel("gain (spikes/bin per member)")
    files += _save(fig, folder, "gain_vs_size")

    fig, ax = plt.subplots(figsize=(max(4, 1.1 * n + 2), 3))
    x = np.arange(len(layers))
    for off, key, label in ((-0.18, "event", "during events"), (0.18, "average", "average")):
        acc = [la["decoding"][key].get("accuracy") for la in layers]
        lo = [la["decoding"][key].get("accuracy_lo") for la in layers]
        hi = [la["decoding"][key].get("accuracy_hi") for la in layers]
        a = np.array([np.nan if v is None else v for v in acc], float)
        err = np.array([[0 if (v is None or w is None) else v - w for v, w in zip(acc, lo, strict=True)],
                        [0 if (v is None or w is None) else w - v for v, w in zip(acc, hi, strict=True)]])
        ax.bar(x + off, a, width=0.36, yerr=err, label=label, capsize=2)
    sh = [la["decoding"]["event"].get("shuffle_accuracy") for la in layers]
    ax.plot(x, [np.nan if v is None else v for v in sh], "k_", ms=20, label="label shuffle")
    ax.set_xticks(x, [la["post_layer"] for la in layers], rotation=30, fontsize=8)
    ax.set_ylabel("CV decoding accuracy")
    ax.legend(fontsize=7)
    files += _save(fig, folder, "decoding")

    conds = list(analysis.get("conditions", {}))
    grid = np.full((len(layers), max(len(conds), 1)), np.nan)
    for ci, name in enumerate(conds):
        for la in analysis["conditions"][name]["layers"]:
            for li, ref in enumerate(layers):
                if ref["post_layer"] == la["post_layer"] and la.get("edges", {}).get(
                        "lost_fraction") is not None:
                    grid[li, ci] = la["edges"]["lost_fraction"]
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(conds) + 2), max(2.5, 0.5 * n + 1)))
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_yticks(range(len(layers)), [f"{la['pre_layer']}->{la['post_layer']}" for la in layers],
                  fontsize=7)
    ax.set_xticks(range(len(conds)), conds, rotation=30, fontsize=7)
    fig.colorbar(im, ax=ax, label="clean edges lost (fraction)")
    files += _save(fig, folder, "edge_loss")
    files += _controls_figure(analysis, folder)
    return files


def _controls_figure(analysis: dict[str, Any], folder: Path) -> list[str]:
    found = {f["id"]: f for f in analysis.get("findings", [])}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    ax = axes[0]
    labels, xs = [], 0
    for fid in ("1", "2", "3", "5"):
        details = found.get(fid, {}).get("details", {})
        per = details.get("contrasts") or {c: p["decoding"] for c, p in
                                           details.get("per_control", {}).items()}
        for control, c in per.items():
            if c.get("value") is None:
                continue
            lo, hi = c.get("lo", c["value"]), c.get("hi", c["value"])
            ax.errorbar(xs, c["value"], yerr=[[c["value"] - lo], [hi - c["value"]]], fmt="o",
                        color="tab:green" if c.get("exceeds") else "tab:red", capsize=3)
            labels.append(f"{fid}: {control}")
            xs += 1
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=7, ha="right")
    ax.set_title("trained - control, per finding (green: exceeds)", fontsize=9)
    ax = axes[1]
    for control, c in (found.get("2", {}).get("details", {}).get("contrasts") or {}).items():
        if c.get("per_layer"):
            ax.plot(c["layers"], c["per_layer"], "o-", label=control)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_title(f"finding 2: {CONTRASTS['2']}, trained - control", fontsize=9)
    ax.tick_params(axis="x", rotation=30, labelsize=7)
    ax = axes[2]
    for name, c in (found.get("4", {}).get("details", {}).get("per_condition") or {}).items():
        ax.plot(list(c["disruption"]), list(c["disruption"].values()), "o-", label=name)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_title("finding 4: disruption beyond the reliability floor", fontsize=9)
    ax.tick_params(axis="x", rotation=30, labelsize=7)
    for a in axes[1:]:
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=7)
    return _save(fig, folder, "controls")
