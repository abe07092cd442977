"""The main job end to end: train, record, fc, analyze, report, ingest, query.

:class:`DemoPlan` says what the demo does; each ``*_step`` function runs one stage through that
stage's own Python API, and every stage reuses what a previous run finished (training resumes or
finds a complete checkpoint, recording and fc skip finished conditions and layer pairs, analysis
keeps its finished parts, ingest finds unchanged tables already loaded). The CLI
(`fcgraph demo`) only prints.

Folder (``plan.root``, default ``runs/demo``)::

    runs/demo/<model>-<dataset>/      the checkpoint (fcgraph train)
    runs/demo/recording/              the run folder: spikes, fc/ edge tables, analysis/
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from fcgraph.errors import BadArgument, at_least, choice
from fcgraph.execution import ProgressFn
from fcgraph.fc.backend import Backend
from fcgraph.names import SPLITS

if TYPE_CHECKING:
    from fcgraph.graph.connection import Connection, Graph
    from fcgraph.models.train import TrainConfig


#: The demo's conditions: a negligible-noise repeat (the reliability floor), noise the digits
#: survive, an attack, and two control networks (weights permuted, untrained).
DEMO_CONDITIONS = ("clean", "uniform:0.001", "uniform:0.1", "uniform:0.2", "fgsm:0.02",
                   "permute:layer", "untrained")


@dataclass(frozen=True)
class DemoPlan:
    """What `fcgraph demo` does; the defaults fit in 15 minutes on 2 CPU cores.

    ``split`` / ``n_images`` choose the recorded images (``None``: the whole split); ``null`` is
    the fc null (``exact``: all whole-image shifts, no sampling); ``top_k`` loads only each
    neuron's ``top_k`` strongest significant in-edges per condition into Neo4j (``None``, the
    default: every edge, 25 M on the demo, by the bulk path); all edges stay on disk, and edge
    states, degrees and layer-pair totals count them all whatever is loaded;
    ``analysis_options`` go to :class:`fcgraph.analysis.AnalysisConfig` (the demo analyses 64
    sampled neurons per layer, ``fcgraph analyze`` 128 by default).
    """

    root: Path = Path("runs/demo")
    dataset: str = "digits"
    model: str = "sew-small"
    epochs: int = 6
    lr: float = 1e-3
    train_limit: int | None = None
    split: str = "test"
    n_images: int | None = 240
    conditions: tuple[str, ...] = DEMO_CONDITIONS
    null: str = "exact"
    top_k: int | None = None
    seed: int = 0
    data_root: Path | None = None
    fc_options: dict[str, Any] = field(default_factory=dict)
    analysis_options: dict[str, Any] = field(default_factory=lambda: {"max_neurons": 64})

    def __post_init__(self) -> None:
        """Check every flag now, not after minutes of training."""
        from fcgraph.analysis import AnalysisConfig
        from fcgraph.fc.settings import FcParams
        from fcgraph.record import parse_all

        if Path(self.root).exists() and not Path(self.root).is_dir():
            raise BadArgument("--root", f"{self.root} is a file, not a folder")
        self.train_config()
        choice(self.split, SPLITS, "--split", "split")
        if self.n_images is not None:
            at_least(self.n_images, 1, "--n-images")
        if "clean" not in [c.name for c in parse_all(self.conditions)]:
            raise BadArgument("--condition", "the demo needs clean among its conditions (the 1FC "
                                             "groups are the clean edges)")
        if self.top_k is not None:
            at_least(self.top_k, 1, "--top-k")
        FcParams.create(null=self.null, **{k: v for k, v in self.fc_options.items()
                                           if k in FcParams.__dataclass_fields__})
        AnalysisConfig(**self.analysis_options)

    def train_config(self) -> TrainConfig:
        """The training of the demo's checkpoint."""
        from fcgraph.models.train import TrainConfig

        return TrainConfig(architecture=self.model, dataset=self.dataset, epochs=self.epochs,
                           lr=self.lr, seed=self.seed, train_limit=self.train_limit)

    @property
    def checkpoint(self) -> Path:
        return Path(self.root) / f"{self.model}-{self.dataset.replace(':', '_').replace('/', '_')}"

    @property
    def recording(self) -> Path:
        return Path(self.root) / "recording"


def train_step(plan: DemoPlan, on_batch: Callable | None = None,
               on_epoch: Callable | None = None) -> dict[str, Any]:
    """Train (or resume, or reuse) the checkpoint; returns its config.json (with ``metrics``)."""
    from fcgraph.models.train import train

    return train(plan.train_config(), plan.checkpoint, data_root=plan.data_root, on_batch=on_batch,
                 on_epoch=on_epoch)


def record_step(plan: DemoPlan, progress: ProgressFn | None = None) -> None:
    """Record every condition of the plan (finished ones are kept, a killed one resumes)."""
    from fcgraph.datasets import load_dataset
    from fcgraph.record import record

    n_images = plan.n_images
    if n_images is None:
        n_images = len(load_dataset(plan.dataset, plan.split, data_root=plan.data_root))
    record(plan.checkpoint, plan.recording, list(plan.conditions), n_images, split=plan.split,
           data_root=plan.data_root, seed=plan.seed, run_id=_run_id(plan),
           command="fcgraph demo", progress=progress)


def _run_id(plan: DemoPlan) -> str:
    return f"demo-{plan.model}-{plan.dataset}".replace(":", "-").replace("/", "-")


def fc_step(plan: DemoPlan, progress: ProgressFn | None = None,
            backend: Backend | str | None = None) -> pd.DataFrame:
    """Significant edges of every condition and layer pair (all of them, on disk);
    ``backend`` (default: the plan's ``fc_options``, else auto) runs the products. Edges of
    earlier settings (an older fcgraph's defaults) are recomputed: the demo owns its run."""
    from fcgraph.fc.run import SettingsChanged, compute_run

    options = dict(plan.fc_options)
    if backend is not None:
        options["backend"] = backend
    try:
        return compute_run(plan.recording, null=plan.null, progress=progress, **options)
    except SettingsChanged:
        return compute_run(plan.recording, null=plan.null, progress=progress, restart=True,
                           **options)


def analysis_step(plan: DemoPlan, progress: ProgressFn | None = None) -> dict[str, Any]:
    """The five findings and every statistic behind them; writes analysis/ and the HTML report."""
    from fcgraph.analysis import AnalysisConfig, analyze_run
    from fcgraph.analysis.report import write_report

    result = analyze_run(plan.recording, AnalysisConfig(**plan.analysis_options), progress=progress)
    write_report(plan.recording)
    return result


def ingest_step(conn: Connection, state: Path, plan: DemoPlan,
                progress: ProgressFn | None = None) -> pd.DataFrame:
    """Load the run (every edge, or each neuron's ``top_k`` strongest in-edges per condition) by
    the fastest path the server allows (:func:`fcgraph.db.load.load_run`: a rebuild of the
    local store, else online). Unchanged tables are found loaded; a demo rerun on new data
    replaces its earlier graph."""
    from fcgraph.db.load import load_run

    return load_run(conn, state, plan.recording, top_k=plan.top_k, replace=True, progress=progress)


#: The columns of each named query that the demo prints.
SHOWN_COLUMNS = {
    "layer_summary": ["pre_layer", "post_layer", "condition", "edges", "density", "mean_z"],
    "edge_loss": ["pre_layer", "post_layer", "baseline_edges", "kept", "weakened", "silenced",
                  "gained", "lost_fraction"],
    "hubs": ["layer", "uid", "degree", "mean_z", "max_z"],
    "ensemble": ["pre_uid", "z", "value", "cofire", "null_mean", "null_sd"],
}


def example_queries(graph: Graph, run_id: str,
                    conditions: tuple[str, ...]) -> list[tuple[str, pd.DataFrame]]:
    """A few named queries on the loaded run: (title, answer) pairs, answers cut to SHOWN_COLUMNS."""
    from fcgraph.graph.queries import run_query

    def ask(name: str, **params: Any) -> tuple[str, pd.DataFrame]:
        frame = run_query(graph, name, {"run_id": run_id, **params})
        shown = frame[[c for c in SHOWN_COLUMNS[name] if c in frame.columns]]
        return (" (of the loaded subset)" if frame.attrs.get("complete") is False else ""), shown

    from fcgraph.analysis.findings import condition_role

    others = [c for c in conditions if c != "clean"]
    perturbed = next((c for c in others if condition_role(c) == "perturbation"),
                     others[0] if others else None)
    _, summary = ask("layer_summary")  # residual feeder pairs (not computed by fc) have no edges
    answers = [("layer_summary: edges and density per layer pair and condition (every edge)",
                summary[summary.edges > 0])]
    if perturbed:
        _, loss = ask("edge_loss", condition=perturbed)
        answers.append((f"edge_loss: what becomes of the clean edges under {perturbed} "
                        "(every edge, from the run's files)",
                        loss[(loss.baseline_edges > 0) | (loss.gained > 0)]))
    _, hubs = ask("hubs", direction="in", top=1)
    answers.append(("hubs: the neuron with the most in-edges per layer (every edge)", hubs))
    if len(hubs):
        uid = str(hubs.iloc[len(hubs) - 1]["uid"])
        subset, group = ask("ensemble", uid=uid)
        answers.append((f"ensemble: the 1FC group of {uid}{subset}", group))
    return answers
