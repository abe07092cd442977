"""Every path of a run folder, in one place: what each stage writes and the next one reads.

::

    RUN/
      manifest.json                      the run manifest (:mod:`fcgraph.contract`)
      labels.npy                         int64 (n_images,): each recorded image's label
      spikes/<slug>/<layer>.bits         bit-packed spikes (:mod:`fcgraph.record.layout`)
      spikes/<slug>/predictions.npy      int64 (n_images,): the model's class per image
      .record/plan.json, <slug>.json     the recorder's settings and per-condition progress
      .record/.parts/                    chunks recorded on a Dask cluster, until assembled
      fc/edges/<slug>.parquet            significant edges, one table per condition
      fc/neurons.parquet                 one row per neuron and condition
      fc/states/                         edge states against the baseline, pair summaries
      fc/dense/<slug>/                   dense matrices (``fcgraph fc --dense``)
      fc/.parts/                         fc's resumable parts
      analysis/analysis.json             the findings and their statistics
      analysis/neurons.parquet           per-neuron analysis properties (loaded into the graph)
      analysis/report.html, figures/     the report
      analysis/.parts/                   the analysis' resumable parts

``<slug>`` is :func:`condition_slug` of the condition (``uniform:0.1`` ->
``uniform_0.1``). The manifest lists edge tables by their paths relative to ``RUN``
(:meth:`RunFolder.relative`), so a run folder can be moved or copied whole. Which layer pairs
a run's edges join is :func:`layer_pairs`'s rule. This module imports nothing heavy (no
pyarrow), so every stage may use it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fcgraph.errors import BadArgument

MANIFEST = "manifest.json"


class _Layer(Protocol):  # fcgraph.contract.LayerInfo, as far as the pair rule reads it
    name: str
    order: int
    feeds_from: tuple[str, ...]

PARTS = ".parts"


def condition_slug(name: str) -> str:
    """File-name-safe form of a condition name (``uniform:0.1`` -> ``uniform_0.1``)."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def layer_pairs(layers: Sequence[_Layer], which: str = "consecutive") -> list[tuple[str, str]]:
    """(pre, post) layer names: consecutive spiking layers, or with ``which="feeders"`` also every
    declared feeder (``LayerInfo.feeds_from``, e.g. across residual connections), ordered by
    post layer, then pre layer. The one rule for which layer pairs fc measures and the graph's
    ``FEEDS`` relationships join."""
    ordered = sorted(layers, key=lambda la: la.order)
    pairs = {(a.name, b.name) for a, b in zip(ordered, ordered[1:], strict=False)}
    if which == "feeders":
        pairs |= {(src, la.name) for la in ordered for src in la.feeds_from}
    elif which != "consecutive":
        raise BadArgument("--pairs", f"unknown pairs {which!r} (consecutive or feeders)")
    order = {la.name: la.order for la in ordered}
    return sorted(pairs, key=lambda p: (order[p[1]], order[p[0]]))


#: A URL's scheme (``s3://b/r`` becomes ``s3:/b/r`` as a Path): a run folder must be a path.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):/+")


def is_url(root: str | Path) -> bool:
    """True when ``root`` is a URL (``s3://bucket/run``) rather than a path."""
    return bool(_URL.match(str(root)))


def local_path(root: str | Path) -> Path:
    """``root`` as a :class:`~pathlib.Path`; :class:`BadArgument` for a URL (``s3://``,
    ``gs://``, ...): code that works on files gets a URL's local mirror from
    :func:`fcgraph.mirror.local_run_folder` (the stage commands do), never the URL."""
    if is_url(root):
        raise BadArgument(_URL.sub(r"\1://", str(root), count=1),
                          "a URL: this command reads a run folder on a path (record, fc, analyze, "
                          "report and ingest take URLs; or mount the store and give that path)")
    return Path(root)


@dataclass(frozen=True)
class RunFolder:
    """The paths of the run folder at ``root`` (nothing is created or checked here)."""

    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", local_path(root))

    def relative(self, path: Path) -> str:
        """``path`` relative to the run folder, with ``/`` separators (as manifests store it)."""
        return path.relative_to(self.root).as_posix()

    # -- recording -------------------------------------------------------------------------------

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def labels(self) -> Path:
        return self.root / "labels.npy"

    def spikes(self, condition: str) -> Path:
        """Folder of one condition's spike files."""
        return self.root / "spikes" / condition_slug(condition)

    def bits(self, condition: str, layer: str) -> Path:
        return self.spikes(condition) / f"{layer}.bits"

    def predictions(self, condition: str) -> Path:
        return self.spikes(condition) / "predictions.npy"

    @property
    def record_state(self) -> Path:
        """The recorder's own folder: its plan and per-condition progress."""
        return self.root / ".record"

    @property
    def record_plan(self) -> Path:
        return self.record_state / "plan.json"

    def record_progress(self, condition: str) -> Path:
        return self.record_state / f"{condition_slug(condition)}.json"

    @property
    def record_parts(self) -> Path:
        """The chunks recorded by Dask workers, until their condition's files are assembled."""
        return self.record_state / PARTS

    def record_part(self, condition: str, start: int, stop: int) -> Path:
        """The folder of one chunk (images ``start .. stop``): its layers' ``<layer>.bits`` and
        ``predictions.npy``; the chunk's part JSON is this path with ``.json`` added."""
        return self.record_parts / condition_slug(condition) / f"{start}-{stop}"

    # -- fc ----------------------------------------------------------------------------------------

    @property
    def fc(self) -> Path:
        return self.root / "fc"

    @property
    def fc_edges(self) -> Path:
        return self.fc / "edges"

    def edges(self, condition: str) -> Path:
        """One condition's edge table (the manifest's ``fc.edges`` lists these)."""
        return self.fc_edges / f"{condition_slug(condition)}.parquet"

    @property
    def fc_neurons(self) -> Path:
        return self.fc / "neurons.parquet"

    @property
    def fc_states(self) -> Path:
        return self.fc / "states"

    @property
    def fc_dense(self) -> Path:
        return self.fc / "dense"

    @property
    def fc_parts(self) -> Path:
        return self.fc / PARTS

    # -- analysis ----------------------------------------------------------------------------------

    @property
    def analysis(self) -> Path:
        return self.root / "analysis"

    @property
    def analysis_json(self) -> Path:
        return self.analysis / "analysis.json"

    @property
    def analysis_neurons(self) -> Path:
        return self.analysis / "neurons.parquet"

    @property
    def analysis_parts(self) -> Path:
        return self.analysis / PARTS

    @property
    def report(self) -> Path:
        return self.analysis / "report.html"

    @property
    def figures(self) -> Path:
        return self.analysis / "figures"
