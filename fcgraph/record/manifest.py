"""The recording's ``manifest.json``: contract fields, provenance and the ``recording`` section."""

from __future__ import annotations

import re
import shlex
import sys
from datetime import UTC, datetime
from typing import Any

from fcgraph.contract import MANIFEST, RunManifest, read_manifest, write_manifest
from fcgraph.io import sha256_file
from fcgraph.models.checkpoint import package_versions
from fcgraph.record.conditions import Condition, parse
from fcgraph.record.layout import RECORDING_FORMAT
from fcgraph.record.state import Setup, complete_files_ok, load_progress
from fcgraph.run_folder import RunFolder


def safe_run_id(text: str) -> str:
    """A run_id the contract accepts (letters, digits, _ . -) derived from ``text``."""
    rid = re.sub(r"[^A-Za-z0-9_.\-]+", "-", text).strip("-._")
    return rid or "run"


def condition_summary(setup: Setup, condition: Condition, state: dict[str, Any]) -> dict[str, Any]:
    """The manifest entry of a finished condition: files with sizes and SHA-256, accuracy,
    per-layer spike counts and firing rates (spikes per neuron per bin), attack success."""
    n, T = len(setup.data), setup.T
    run = RunFolder(setup.root)
    layers = {}
    for la in setup.layers:
        rel = run.relative(run.bits(condition.name, la.name))
        count = int(state["spike_counts"][la.name])
        layers[la.name] = {"path": rel, **state["files"][rel], "spike_count": count,
                           "firing_rate": count / (la.n_neurons * T * n)}
    rel = run.relative(run.predictions(condition.name))
    out: dict[str, Any] = {"dir": run.relative(run.spikes(condition.name)),
                           "details": condition.describe(), "accuracy": state["correct"] / n,
                           "predictions": {"path": rel, **state["files"][rel]},
                           "seconds": round(float(state["seconds"]), 3), "layers": layers}
    if condition.is_attack:
        clean = int(state["clean_correct"])
        out["clean_accuracy"] = clean / n
        out["attack_success_rate"] = (state["fooled"] / clean) if clean else None
    return out


def write_recording_manifest(setup: Setup, parsed: list[Condition], run_id: str | None,
                             command: str | None) -> RunManifest:
    """Write ``manifest.json``: every finished condition of the folder (earlier ones first), the
    layers, provenance and the ``recording`` section; an existing ``fc`` section is kept."""
    root = setup.root
    previous = read_manifest(root) if (root / MANIFEST).exists() else None
    names = [c.name for c in (previous.conditions if previous else [])]
    names += [c.name for c in parsed if c.name not in names]
    summaries: dict[str, Any] = {}
    kept = []
    for name in names:
        condition = parse(name)
        state = load_progress(setup, condition)
        if complete_files_ok(setup, condition, state):
            summaries[name] = condition_summary(setup, condition, state)
            kept.append(condition)
    cfg = setup.checkpoint
    provenance = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command if command is not None else shlex.join(sys.argv),
        "model": {"checkpoint": str(cfg.path.resolve()), "architecture": cfg.model.architecture,
                  "sha256": setup.plan["model_sha256"],
                  "weights_file_sha256": sha256_file(cfg.path / "model.pt"),
                  "config": cfg.model.to_json(), "trained_on": cfg.dataset,
                  "training": cfg.training, "metrics": cfg.metrics},
        "dataset": {"name": setup.plan["dataset"], "split": setup.plan["split"],
                    "split_seed": setup.plan["split_seed"], "images": "the first n_images of the split",
                    "n_images": setup.plan["n_images"]},
        "seed": setup.seed, "batch_size": setup.batch_size, "versions": package_versions(),
    }
    recording = {
        "format": RECORDING_FORMAT, "format_version": 1, "trials": setup.plan.get("trials", 1),
        "layout": {"file": "spikes/<condition slug>/<layer>.bits", "dtype": "uint8",
                   "shape": "(n_neurons, ceil(T * n_images / 8))", "bit_order": "little",
                   "rows": "neurons; conv layers channel-major (k = c*H*W + y*W + x)",
                   "bins": "presentation * T + step; presentation = trial * images per trial "
                           "+ image"},
        "labels": {"path": RunFolder(root).relative(RunFolder(root).labels),
                   "sha256": sha256_file(RunFolder(root).labels),
                   "bytes": RunFolder(root).labels.stat().st_size},
        "conditions": summaries,
    }
    extra = dict(previous.extra) if previous else {}
    extra["recording"] = recording
    manifest = RunManifest(
        run_id=run_id or (previous.run_id if previous else safe_run_id(root.resolve().name)),
        layers=setup.layers, conditions=[c.info for c in kept], T=setup.T, n_images=len(setup.data),
        fc=previous.fc if previous else {}, provenance=provenance, extra=extra)
    write_manifest(root, manifest)
    return manifest
