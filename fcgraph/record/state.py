"""Recording state: the settings of one ``record`` call and each condition's saved progress.

``.record/<slug>.json`` holds a condition's progress: images done, spike counts per layer,
correct predictions, attack counts, seconds, and, once complete, each file's size and SHA-256.
It is replaced atomically after every batch (rename, no fsync: the spike pages are not synced
either until the condition ends; an unreadable progress file only means starting over).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fcgraph.contract import LayerInfo
from fcgraph.datasets import ImageData
from fcgraph.models.checkpoint import CheckpointConfig
from fcgraph.models.classifier import SpikingClassifier
from fcgraph.record import layout
from fcgraph.record.conditions import Condition
from fcgraph.run_folder import RunFolder


@dataclass(frozen=True)
class Setup:
    """What one ``record`` call works with (``batch_size`` already rounded to whole bytes)."""

    root: Path
    model: SpikingClassifier
    checkpoint: CheckpointConfig
    data: ImageData
    layers: list[LayerInfo]
    T: int
    batch_size: int
    seed: int
    plan: dict[str, Any]


def fresh_progress(setup: Setup, name: str) -> dict[str, Any]:
    """Progress of a condition not started yet."""
    return {"condition": name, "done": 0, "complete": False, "correct": 0, "clean_correct": 0,
            "fooled": 0, "seconds": 0.0, "spike_counts": {la.name: 0 for la in setup.layers}}


def load_progress(setup: Setup, condition: Condition) -> dict[str, Any]:
    """The saved progress of ``condition`` (a fresh one when none or unreadable)."""
    path = RunFolder(setup.root).record_progress(condition.name)
    try:
        state = json.loads(path.read_text()) if path.exists() else None
    except ValueError:
        state = None
    if not isinstance(state, dict) or state.get("condition") != condition.name:
        return fresh_progress(setup, condition.name)
    return state


def save_progress(setup: Setup, state: dict[str, Any]) -> None:
    """Replace the condition's progress file atomically (see the module docstring)."""
    path = RunFolder(setup.root).record_progress(state["condition"])
    tmp = path.with_name(path.name + layout.PARTIAL)
    tmp.write_text(json.dumps(state) + "\n")
    os.replace(tmp, path)


def complete_files_ok(setup: Setup, condition: Condition, state: dict[str, Any]) -> bool:
    """True when every final file of a completed condition is present with its recorded size."""
    if not state.get("complete"):
        return False
    files = state.get("files", {})
    for rel, info in files.items():
        path = setup.root / rel
        if not path.exists() or path.stat().st_size != info["bytes"]:
            return False
    return len(files) == len(setup.layers) + 1
