"""The ``tiny`` model's reference recording and pipeline, made by the real code (needs torch:
it trains the model). The fixtures ``tiny_recording`` and ``tiny_run`` (tests/conftest.py)
build them once per session; tests copy them, never write them."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.cli import invoke

N_IMAGES = 32
CONDITIONS = ["clean", "uniform:0.2"]


def _train_tiny(checkpoint: Path) -> None:
    from fcgraph.models import TrainConfig, train

    train(TrainConfig(architecture="tiny", T=4, lr=0.02, batch_size=16, epochs=1,
                      train_limit=128, test_limit=16), checkpoint)


def make_tiny_recording(base: Path) -> Path:
    """A recording of the `tiny` model (T = 4, 32 digits, two conditions) under ``base``."""
    from fcgraph.record import record

    _train_tiny(base / "ck")
    record(base / "ck", base / "rec", CONDITIONS, N_IMAGES, batch_size=16, seed=3)
    return base / "rec"


#: The ingest command of the reference graph (tests/system/conftest.py's ``reference_dump``) and
#: of the tests compared with it (small batches: many commits).
INGEST = ["--batch-size", "100", "--workers", "1", "--no-progress"]


@dataclass(frozen=True)
class TinyRun:
    """A reference pipeline of the ``tiny`` model (T = 4, 32 digits, clean and uniform:0.2), made
    by the real commands in-process: ``rec`` (record), ``fc`` (record + fc) and ``full`` (record +
    fc + analyze) are finished folders that tests copy, never write; the ``*_args`` are the
    commands that made them (a test reruns the same command on its own folder)."""

    checkpoint: Path
    run_id: str
    rec: Path
    fc: Path
    full: Path

    def record_args(self, out: Path) -> list[str]:
        return ["record", str(self.checkpoint), "--out", str(out), "-n", "32", "-c", "clean",
                "-c", "uniform:0.2", "--batch-size", "8", "--seed", "3", "--run-id", self.run_id,
                "--flush-bytes", "1", "--no-progress"]

    @staticmethod
    def fc_args(folder: Path) -> list[str]:
        return ["fc", str(folder), "--backend", "numpy", "--no-progress"]

    @staticmethod
    def analyze_args(folder: Path) -> list[str]:
        return ["analyze", str(folder), "--n-boot", "5", "--max-neurons", "8", "--folds", "2",
                "--no-report", "--no-progress"]


def make_tiny_run(base: Path) -> TinyRun:
    """The finished reference folders of :class:`TinyRun` under ``base``."""
    _train_tiny(base / "ck")
    run = TinyRun(base / "ck", f"tiny-{uuid.uuid4().hex[:10]}", base / "rec", base / "fc",
                  base / "full")
    invoke(run.record_args(run.rec))
    shutil.copytree(run.rec, run.fc)
    invoke(run.fc_args(run.fc))
    shutil.copytree(run.fc, run.full)
    invoke(run.analyze_args(run.full))
    return run
