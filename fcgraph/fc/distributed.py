"""``fcgraph fc`` on a Dask cluster: one task per (condition, layer pair) still to compute.

:func:`~fcgraph.fc.run.compute_run` with a scheduler or local workers
(:class:`~fcgraph.execution.Execution`) checks its inputs and writes the plan as in-process,
then hands the layer pairs that no earlier run finished to :func:`compute_on_cluster`. Each task
(:func:`~fcgraph.fc.run.pair_unit`) opens the recording on its worker, at the same path (a
shared filesystem; checked first by :func:`~fcgraph.execution.check_shared_folder` against the
plan file), verifies the two spike files it reads against the manifest's hashes, and writes the
pair's part (``fc/.parts/<slug>/<k>.parquet``, then its ``.json``, atomically) exactly as the
in-process run does. The client then assembles the edge tables, the neuron table and the
manifest as in-process.

What is the same: every file is identical to an in-process run's, byte for byte, but for the
``seconds`` of each layer pair (in its part JSON and the manifest's ``fc.layer_pairs`` rows:
the time it took, wherever it ran) and, on GPU workers, ``backend_detail`` (the worker's device
name). A task gets no exact-null features from the layer pair before it (the
:class:`~fcgraph.fc.feature_relay.FeatureRelay` is in-process only): it recomputes them, with
identical results.

Faults: a worker killed mid-task loses only that task (Dask reruns it on another worker; a
part file is complete once it exists, so a half-written one never counts); a scheduler lost
mid-run ends the run with one line (:class:`~fcgraph.execution.ClusterLost`) and a rerun,
in-process or on any cluster, resumes from the parts the workers finished.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcgraph.execution import check_shared_folder, run_units

if TYPE_CHECKING:
    from distributed import Client

    from fcgraph.fc.backend import Backend
    from fcgraph.fc.settings import FcParams
    from fcgraph.record.reader import Recording

#: ``(condition, k, pre, post)``: a layer pair to compute.
Unit = tuple[str, int, str, str]


def compute_on_cluster(client: Client, unit: Callable[..., dict[str, Any]], rec: Recording,
                       plan: Path, params: FcParams, backend: Backend, tile: int,
                       todo: list[Unit], progress: Callable[[str, int, int], None] | None,
                       after_pair: Callable[[str, str, str], None] | None,
                       ) -> dict[tuple[str, int], dict[str, Any]]:
    """Compute the layer pairs ``todo`` on the workers of ``client`` (module doc).

    Parameters
    ----------
    client : distributed.Client
        The cluster's client.
    unit : callable
        The task of one layer pair, :func:`fcgraph.fc.run.pair_unit`.
    rec : Recording
        The recording (its folder is the run folder).
    plan : Path
        The run's plan file, which every worker must read as this process does.
    params : FcParams
        The settings.
    backend : Backend
        The backend the run chose; the workers use the same one.
    tile : int
        Post neurons per block.
    todo : list of (condition, k, pre, post)
        The layer pairs to compute (k: the pair's index).
    progress : callable or None
        ``progress(task, done, total)``: called when a pair is sent (0 done) and when it is
        finished (all done).
    after_pair : callable or None
        ``after_pair(condition, pre, post)``, after each finished pair, in the order they finish.

    Returns
    -------
    dict
        The summary of each pair computed, by (condition, k).
    """
    check_shared_folder(client, plan.parent.resolve(), plan.name)
    totals = [rec.layer(post).n_neurons for _, _, _, post in todo]
    tasks = [f"{condition} {pre}->{post}" for condition, _, pre, post in todo]
    if progress is not None:
        for task, total in zip(tasks, totals, strict=True):
            progress(task, 0, total)
    args = [(str(rec.path.resolve()), params, (backend.name, backend.detail), tile, *u) for u in todo]
    found: dict[tuple[str, int], dict[str, Any]] = {}

    def done(i: int, summary: dict[str, Any]) -> None:
        condition, k, pre, post = todo[i]
        found[condition, k] = summary
        if progress is not None:
            progress(tasks[i], totals[i], totals[i])
        if after_pair is not None:
            after_pair(condition, pre, post)

    run_units(client, unit, args, done, describe=lambda i: f"layer pair {tasks[i]}", name="fcgraph-fc")
    return found
