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
name).

Features handed on: a worker process keeps the exact null's features of the post layers of the
pairs it ran (:func:`~fcgraph.fc.feature_relay.worker_store`, at most
:data:`~fcgraph.fc.feature_relay.WORKER_RELAY_LAYERS` layers), and a task whose pre layer is
one of them takes them instead of computing them again, with identical results. For that the
pairs of a condition go, in order, to the same worker thread (:func:`plan_slots`: each
condition's chain of pairs, cut into as many contiguous runs as it takes to give every worker
thread work, runs placed on the least loaded thread). Each thread's queue stays here and sends
its next pair when the one before is done (:func:`~fcgraph.execution.run_units`), so Dask's work
stealing has nothing to move; a thread whose queue runs dry takes the second half of the longest
queue left (in order: those pairs still hand on features among themselves), and a pair sent to a
lost worker goes to another (``allow_other_workers``), which computes its features again.

Faults: a worker killed mid-task loses only that task (Dask reruns it on another worker; a
part file is complete once it exists, so a half-written one never counts); a scheduler lost
mid-run ends the run with one line (:class:`~fcgraph.execution.ClusterLost`) and a rerun,
in-process or on any cluster, resumes from the parts the workers finished.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcgraph.execution import ProgressFn, check_shared_folder, run_units

if TYPE_CHECKING:
    from distributed import Client

    from fcgraph.fc.backend import Backend
    from fcgraph.fc.settings import FcParams
    from fcgraph.record.reader import Recording

#: ``(condition, k, pre, post)``: a layer pair to compute.
Unit = tuple[str, int, str, str]


def plan_slots(todo: list[Unit], costs: list[float],
               slots: list[str]) -> list[tuple[str, list[int]]]:
    """The queue of layer pairs of each worker thread (module doc): every condition's pairs in
    order, each run of them on one thread.

    Parameters
    ----------
    todo : list of (condition, k, pre, post)
        The layer pairs, each condition's in chain order.
    costs : list of float
        A cost of each pair (any unit: only compared and summed).
    slots : list of str
        One worker address per worker thread (an address appears once per thread).

    Returns
    -------
    list of (str, list of int)
        ``(address, indices into todo)``: a thread's queue, in the order it runs them (the
        queues of :func:`~fcgraph.execution.run_units`); threads left without a pair are left
        out.
    """
    runs: list[list[int]] = []
    for i, (condition, k, _, _) in enumerate(todo):
        last = runs[-1][-1] if runs else None
        if last is not None and todo[last][0] == condition and todo[last][1] == k - 1:
            runs[-1].append(i)
        else:
            runs.append([i])

    def cost(run: list[int]) -> float:
        return sum(costs[i] for i in run)

    while len(runs) < len(slots):  # cut the dearest run where its halves balance best
        long = [r for r in runs if len(r) > 1]
        if not long:
            break
        run = max(long, key=cost)
        cut = min(range(1, len(run)), key=lambda c: max(cost(run[:c]), cost(run[c:])))
        at = runs.index(run)
        runs[at:at + 1] = [run[:cut], run[cut:]]
    queues: list[list[int]] = [[] for _ in slots]
    loads = [0.0] * len(slots)
    for run in sorted(runs, key=cost, reverse=True):  # the dearest first, to the least loaded
        s = min(range(len(slots)), key=loads.__getitem__)
        queues[s].extend(sorted(run))
        loads[s] += cost(run)
    return [(slots[s], q) for s, q in enumerate(queues) if q]


def _slots(client: Client) -> list[str]:
    """One address per worker thread of the cluster now (in address order)."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return [addr for addr in sorted(workers) for _ in range(max(1, workers[addr].get("nthreads", 1)))]


def compute_on_cluster(client: Client, unit: Callable[..., dict[str, Any]], rec: Recording,
                       plan: Path, params: FcParams, backend: Backend, tile: int,
                       todo: list[Unit], progress: ProgressFn | None,
                       after_pair: Callable[[str, str, str], None] | None,
                       ) -> tuple[dict[tuple[str, int], dict[str, Any]], int]:
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
        The layer pairs to compute (k: the pair's index), each condition's in order.
    progress : callable or None
        ``progress(task, done, total)``: called when a pair is sent (0 done) and when it is
        finished (all done).
    after_pair : callable or None
        ``after_pair(condition, pre, post)``, after each finished pair, in the order they finish.

    Returns
    -------
    dict
        The summary of each pair computed, by (condition, k).
    int
        The pairs whose pre layer's exact-null features their worker had kept.
    """
    check_shared_folder(client, plan.parent.resolve(), plan.name)
    sizes = {la.name: la.n_neurons for la in rec.layers}
    queues = plan_slots(todo, [float(sizes[pre]) * sizes[post] for _, _, pre, post in todo],
                        _slots(client))
    totals = [rec.layer(post).n_neurons for _, _, _, post in todo]
    tasks = [f"{condition} {pre}->{post}" for condition, _, pre, post in todo]
    if progress is not None:
        for task, total in zip(tasks, totals, strict=True):
            progress(task, 0, total)
    args = [(str(rec.path.resolve()), params, (backend.name, backend.detail), tile, *u) for u in todo]
    found: dict[tuple[str, int], dict[str, Any]] = {}
    reused = 0

    def done(i: int, got: dict[str, Any]) -> None:
        nonlocal reused
        condition, k, pre, post = todo[i]
        found[condition, k] = got["summary"]
        reused += got["features_reused"]
        if progress is not None:
            progress(tasks[i], totals[i], totals[i])
        if after_pair is not None:
            after_pair(condition, pre, post)

    run_units(client, unit, args, done, describe=lambda i: f"layer pair {tasks[i]}", name="fcgraph-fc",
              queues=queues)
    return found, reused
