"""A whole recording through the fc engine: every condition and layer pair into the run folder.

:func:`compute_run` reads a recording folder (``fcgraph.record``), runs
:func:`~fcgraph.fc.edges.significant_edges` on each chosen (condition, layer pair) and writes
the contract's tables into the same folder::

    RUN/fc/neurons.parquet            one row per (condition, layer, neuron): NEURON_COLUMNS
                                      plus condition; spike_count over all L bins, rate =
                                      spike_count / L (spikes per bin)
    RUN/fc/edges/<slug>.parquet       one table per condition, one row per edge, in layer-pair
                                      order, then post_idx, then pre_idx; a row group per post
                                      tile of each layer pair
    RUN/fc/dense/<slug>/<pre>__<post>.<key>.npy   with ``dense=True`` only: every pair's
                                      cofire (int32), value, null_mean, null_sd, z (float32),
                                      shape (n_pre, n_post)
    RUN/manifest.json                 its ``fc`` section: parameters, neurons, edges, and per
                                      condition and layer pair the counts of the report

Resuming: each finished layer pair leaves ``fc/.parts/<slug>/<k>.parquet`` (its edges) and
``<k>.json`` (its counts and the SHA-256 of the two spike files), both written atomically, the
JSON last. A rerun with the same parameters skips every pair whose JSON exists; when all pairs
of a condition are done they are concatenated (streamed row group by row group) into the edge
table, ``done.json`` is written and the part tables are removed. ``fc/.parts/plan.json``
holds the parameters that change results; a rerun with other parameters, a re-recorded spike
file, or fc tables made otherwise, is refused with a message naming the difference, unless
``restart=True`` discards the earlier fc output. Backend and tile size do not change results
(all backends give identical edges), so they may change between runs.

Candidate pairs (``candidates="receptive-field"``): for a conv pre layer (C1, H1, W1) and a
conv post layer (C2, H2, W2) whose spatial sizes divide (s = H1 / H2 = W1 / W2, an integer
>= 1), post neuron (c2, y2, x2) is tested against every pre channel at the positions a 3 x 3
convolution with stride s and padding 1 reads: y1 in s*y2 - 1 .. s*y2 + 1 and x1 in
s*x2 - 1 .. s*x2 + 1 (clipped to the layer). Any other pair of layers (a dense layer on either
side, sizes that do not divide, a post layer larger than the pre layer) tests all pairs.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fcgraph import faults
from fcgraph.errors import BadArgument, FcgraphError, at_least
from fcgraph.execution import Execution, ProgressFn
from fcgraph.fc.backend import Backend, get_backend
from fcgraph.fc.counts import DEFAULT_TILE
from fcgraph.fc.feature_relay import FeatureRelay
from fcgraph.fc.pair import (
    COUNT_KEYS,
    RF_KERNEL,
    FcParts,
    calibration_entry,
    json_number,
    json_round_trip,
    pair_head,
    pair_inputs,
    pair_part_key,
    pair_spike_hashes,
    threshold_entry,
    worker_backend,
    write_edges,
)
from fcgraph.fc.settings import FcParams
from fcgraph.fc.shifts import draw_shifts, trial_shifts
from fcgraph.fc.stats import normal_upper_tail
from fcgraph.parts import read_part, write_part
from fcgraph.run_folder import layer_pairs

if TYPE_CHECKING:
    import pandas as pd

    from fcgraph.record.reader import Recording

#: ``progress(task, done, total)``: one task per (condition, layer pair), done/total post neurons.
#: Called after each layer pair is finished and saved: ``after_pair(condition, pre, post)``.
PairHook = Callable[[str, str, str], None]

DENSE_KEYS = {"cofire": np.int32, "value": np.float32, "null_mean": np.float32,
              "null_sd": np.float32, "z": np.float32}


# -- layer pairs and candidates ------------------------------------------------------------------






# -- files ---------------------------------------------------------------------------------------




def _write_json(path: Path, data: dict[str, Any]) -> None:
    from fcgraph.io import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, default=json_number) + "\n")






def _read_json(path: Path) -> dict[str, Any]:
    from fcgraph.io import read_json_object

    return read_json_object(path, "missing")




def _plan_for(rec: Recording, params: FcParams) -> dict[str, Any]:
    return {"format": "fcgraph.fc-plan", "format_version": 1, "run_id": rec.run_id, "T": rec.T,
            "n_images": rec.n_images,
            "layers": [[la.name, list(la.shape)] for la in rec.layers],
            "parameters": params.to_json()}


def _plan_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    diffs = []
    for key in ("run_id", "T", "n_images", "layers"):
        if old.get(key) != new.get(key):
            diffs.append(f"{key} differs")
    op, np_ = old.get("parameters", {}), new["parameters"]
    for key in np_:
        if op.get(key) != np_[key]:
            diffs.append(f"{key}: {op.get(key)} -> {np_[key]}")
    return ", ".join(diffs)


def _restart(lay: FcParts) -> None:
    """Remove every fc output of the run folder (parts, edges, neurons, dense matrices)."""
    for sub in (lay.parts, lay.run.fc_edges, lay.run.fc_dense):
        if sub.exists():
            shutil.rmtree(sub)
    lay.run.fc_neurons.unlink(missing_ok=True)


class SettingsChanged(FcgraphError):
    """The run folder holds fc results computed with other settings (resume refused)."""


def _check_plan(lay: FcParts, rec: Recording, plan: dict[str, Any]) -> None:
    """Refuse to mix results of other settings (see the module docstring); writes nothing."""
    if lay.plan.exists():
        old = _read_json(lay.plan)
        diff = _plan_difference(old, plan)
        if diff:
            raise SettingsChanged(f"{lay.parts} holds fc results computed with other settings ({diff}); "
                               "rerun with the same settings to resume, or with --restart to "
                               "discard them")
    elif rec.manifest.fc.get("edges"):
        raise FcgraphError(f"{lay.root} already has fc tables not made by a resumable `fcgraph fc` "
                           "run; rerun with --restart to replace them")


def _finished_pairs(lay: FcParts, rec: Recording, params: FcParams, conditions: list[str],
                    pairs: list[tuple[str, str]]) -> dict[tuple[str, int], dict[str, Any]]:
    """The saved summaries of the layer pairs an earlier run finished, keyed by (condition,
    pair index): parts whose key is the one these settings, pairs and spike files give."""
    finished = {}
    for condition in conditions:
        assembled = lay.done(condition).exists() and (rec.path / lay.edges_rel(condition)).exists()
        for k, (pre, post) in enumerate(pairs):
            _, json_path = lay.part(condition, k)
            if not json_path.exists():
                if assembled:
                    raise FcgraphError(f"{lay.cond_dir(condition)} lacks {json_path.name}; rerun with "
                                       "--restart")
                continue
            summary, key = read_part(json_path)
            if key != pair_part_key(rec, params, condition, pre, post):  # fc refuses a stale part
                if (summary.get("pre_layer"), summary.get("post_layer")) != (pre, post):
                    raise FcgraphError(f"{json_path}: holds {summary.get('pre_layer')} -> "
                                       f"{summary.get('post_layer')}, expected {pre} -> {post}; "
                                       "rerun with --restart")
                if {k: summary.get(k) for k in ("pre_sha256", "post_sha256")} != \
                        pair_spike_hashes(rec, condition, pre, post):
                    raise FcgraphError(f"the spikes of {condition} ({pre} or {post}) changed "
                                       "since their fc results were computed; rerun with --restart")
                if key is not None:  # keyless: saved before parts had keys; the plan and the
                    # two checks above are what it was checked against then, and they passed
                    raise FcgraphError(f"{json_path}: computed from other inputs or by another "
                                       "version of fcgraph; rerun with --restart")
            finished[condition, k] = summary
    return finished












# -- one layer pair ------------------------------------------------------------------------------


def _compute_pair(rec: Recording, lay: FcParts, params: FcParams, backend: Backend, tile: int,
                  condition: str, k: int, pre: str, post: str,
                  progress: ProgressFn | None, relay: FeatureRelay) -> dict[str, Any]:
    """Compute, save (part table, then its JSON) and return one layer pair's summary
    (``relay``: exact-null features handed from each pair to the next)."""


    pre_info, post_info = rec.layer(pre), rec.layer(post)
    pre_sm, post_sm, cand, rule = pair_inputs(rec, params, condition, pre, post)
    task = f"{condition} {pre}->{post}"
    table_path, json_path = lay.part(condition, k)
    t0 = time.perf_counter()
    summary = pair_head(params, backend, condition, pre, post, cand)
    if params.fdr is None:
        summary["threshold"] = threshold_entry(params, rule, pre_sm, post_sm, backend=backend,
                                          tile=tile, candidates=cand,
                                          progress=_ticker(progress, f"{task} control"))
        rule["z"] = summary["threshold"]["z"]
    dense = _open_dense(lay, condition, pre, post, pre_info.n_neurons, post_info.n_neurons) \
        if params.dense else None
    report = write_edges(table_path, pre_sm, post_sm, rule, top_k=params.top_k, backend=backend,
                         tile=tile, pre_layer=pre, post_layer=post, run_id=rec.run_id,
                         condition=condition, candidates=cand, dense=dense,
                         progress=_ticker(progress, task), relay=relay)
    summary.update({key: int(report[key]) for key in COUNT_KEYS})
    summary.update(nominal_rate=report["nominal_rate"] if params.fdr is not None else
                   float(normal_upper_tail(params.z)), n_shifts_used=report["n_shifts_used"])
    if params.calibrate:
        summary["calibration"] = calibration_entry(params, rule, pre_sm, post_sm,
                                              backend=backend, tile=tile, candidates=cand)
    if dense is not None:
        _close_dense(dense)
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    summary.update(pair_spike_hashes(rec, condition, pre, post))
    faults.checkpoint("fc.pair")
    write_part(json_path, pair_part_key(rec, params, condition, pre, post), json_round_trip(summary))
    lay.remove_unit_tables(condition, k)  # those of a split run killed before this pair was done
    return summary


def pair_unit(root: str, params: FcParams, backend: tuple[str, str], tile: int, condition: str,
              k: int, pre: str, post: str) -> dict[str, Any]:
    """One (condition, layer pair) as a Dask task computes it on a worker.

    Opens the recording at ``root``, computes and saves the pair's part as :func:`compute_run`
    does in-process, and returns its summary. The exact null's features go through the
    worker process's :func:`~fcgraph.fc.feature_relay.worker_store`: the pre layer's are taken
    from it when the task before on this worker kept them (the same condition, spike file,
    tested neurons, null and backend), and the post layer's are kept there for the next.

    Parameters
    ----------
    root : str
        The run folder, at the same path as on the client.
    params : FcParams
        The settings.
    backend : tuple of str
        The client's backend (name, detail); a NumPy backend keeps the client's detail, so that
        the summaries are the same.
    tile : int
        Post neurons per block.
    condition, k, pre, post : str, int, str, str
        The condition, the pair's index and its two layers.

    Returns
    -------
    dict
        ``summary``: the layer pair's summary (as saved in its part); ``features_reused``: 1
        when the pre layer's features came from this worker's store, else 0.
    """
    from fcgraph.fc.feature_relay import worker_store
    from fcgraph.io import writing_into
    from fcgraph.record.reader import open_recording

    rec = open_recording(root)
    be = worker_backend(backend)
    hashes = pair_spike_hashes(rec, condition, pre, post)
    sha = {(condition, pre): hashes["pre_sha256"], (condition, post): hashes["post_sha256"]}

    def scope(layer: Any) -> tuple[Any, ...]:  # a changed file, or another backend: another key
        return (*layer, sha.get(layer), be.name)

    relay = FeatureRelay(worker_store(), scope)
    with writing_into(rec.path):
        summary = _compute_pair(rec, FcParts(rec.path), params, be, tile, condition, k, pre,
                                post, None, relay)
    return {"summary": summary, "features_reused": relay.taken}


def _ticker(progress: ProgressFn | None, task: str) -> Callable[[int, int], None] | None:
    """``progress`` bound to one task, as significant_edges calls it (or None)."""
    if progress is None:
        return None
    return lambda done, total: progress(task, done, total)














def _open_dense(lay: FcParts, condition: str, pre: str, post: str, n_pre: int,
                n_post: int) -> dict[str, Any]:
    from fcgraph.io import preallocate

    d = lay.dense_dir(condition)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, dtype in DENSE_KEYS.items():
        tmp = d / f".{pre}__{post}.{key}.npy.tmp"
        out[key] = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(n_pre, n_post))
        preallocate(tmp, tmp.stat().st_size, keep=True)  # a full disk: ENOSPC now, not SIGBUS later
    return out


def _close_dense(dense: dict[str, Any]) -> None:
    for arr in dense.values():
        arr.flush()
        tmp = Path(arr.filename)
        del arr
        os.replace(tmp, tmp.with_name(tmp.name[1:].removesuffix(".tmp")))


# -- a condition's edge table, the neuron table, the manifest --------------------------------------


def _assemble(lay: FcParts, condition: str, n_pairs: int) -> None:
    """Concatenate the condition's part tables into its edge table (atomic, streamed)."""
    import pyarrow.parquet as pq

    from fcgraph.io import atomic_write

    parts = [lay.part(condition, k)[0] for k in range(n_pairs)]
    rows = 0

    def write(fh: Any) -> None:
        nonlocal rows
        writer: pq.ParquetWriter | None = None
        for path in parts:
            pf = pq.ParquetFile(path)
            if writer is None:
                writer = pq.ParquetWriter(fh, pf.schema_arrow)
            for i in range(pf.num_row_groups):
                group = pf.read_row_group(i)
                if group.num_rows:
                    writer.write_table(group)
                    rows += group.num_rows
        assert writer is not None
        writer.close()

    atomic_write(lay.root / lay.edges_rel(condition), write)
    _write_json(lay.done(condition), {"edges": rows, "file": lay.edges_rel(condition)})
    faults.checkpoint("fc.assembled")
    _remove_part_tables(lay, condition, n_pairs)


def _remove_part_tables(lay: FcParts, condition: str, n_pairs: int) -> None:
    """Remove an assembled condition's part tables (their JSON summaries stay)."""
    for k in range(n_pairs):
        lay.part(condition, k)[0].unlink(missing_ok=True)


def _write_neurons(rec: Recording, lay: FcParts, conditions: list[str]) -> None:
    """The neuron table for ``conditions`` (one row per condition, layer and neuron), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fcgraph.contract import NEURON_COLUMNS, OPTIONAL_NEURON_COLUMNS
    from fcgraph.io import atomic_write

    schema = pa.schema(list(NEURON_COLUMNS.items()) + list(OPTIONAL_NEURON_COLUMNS.items()))

    def write(fh: Any) -> None:
        with pq.ParquetWriter(fh, schema) as writer:
            for condition in conditions:
                for layer in rec.layers:
                    idx = np.arange(layer.n_neurons, dtype=np.int64)
                    channel, y, x = (np.asarray(v, dtype=np.int64) for v in layer.position(idx))
                    count = rec.packed(condition, layer.name).spike_counts()
                    n = layer.n_neurons
                    writer.write_table(pa.table({
                        "layer": pa.array([layer.name] * n, pa.string()), "idx": idx,
                        "channel": channel, "y": y, "x": x, "spike_count": count,
                        "rate": count / float(rec.L),
                        "condition": pa.array([condition] * n, pa.string())}, schema=schema))

    atomic_write(lay.run.fc_neurons, write)


def _update_manifest(rec: Recording, lay: FcParts, params: FcParams, done: list[str],
                     summaries: dict[str, list[dict[str, Any]]]) -> None:
    from fcgraph.contract import read_manifest, write_manifest

    manifest = read_manifest(rec.path)
    fc: dict[str, Any] = {
        "parameters": {**params.to_json(), "rf_kernel": RF_KERNEL
                       if params.candidates == "receptive-field" else None},
        "neurons": lay.run.relative(lay.run.fc_neurons),
        "edges": {c: lay.edges_rel(c) for c in done},
        "layer_pairs": {c: [{k: v for k, v in s.items() if not k.endswith("sha256")}
                            for s in summaries[c]] for c in done},
    }
    fc["parameters"] = {k: v for k, v in fc["parameters"].items() if v is not None}
    if params.dense:
        fc["dense"] = {c: str(lay.dense_dir(c).relative_to(rec.path)) for c in done}
        fc["dense_files"] = "<pre>__<post>.<key>.npy, key in " + ", ".join(DENSE_KEYS)
    manifest.fc = fc
    write_manifest(rec.path, manifest)


# -- the API -------------------------------------------------------------------------------------


def compute_run(recording: Path | str, *, conditions: list[str] | None = None,
                params: FcParams | None = None, backend: str | Backend = "auto",
                tile: int = DEFAULT_TILE, restart: bool = False,
                progress: ProgressFn | None = None, after_pair: PairHook | None = None,
                execution: Execution | None = None, scheduler: str | None = None,
                local_workers: int | str = 0, unit_tiles: int = 0, **settings: Any) -> pd.DataFrame:
    """Significant edges of every chosen condition and layer pair of a recording (module doc).

    ``recording``: a folder written by ``fcgraph record`` (the output goes into it), or its URL
    (``s3://bucket/run``: worked on through a local mirror, :func:`fcgraph.mirror.local_run_folder`;
    workers then reach the store, not a shared path).
    ``conditions``: names (default: all recorded). ``params`` (or the same fields as keyword
    ``settings``: measure, null, n_shifts, min_shift, shift_unit, min_spikes, z, threshold,
    control_draws, fdr, top_k, calibrate, pairs, candidates, seed, dense): see
    :class:`FcParams`. ``backend``: numpy, torch[:device], cupy or auto; ``tile``: post
    neurons per block (memory is about ``8 n_pre tile`` bytes times a few arrays).
    ``restart``: discard earlier fc output first. ``progress(task, done, total)``: per layer
    pair, post neurons done. ``after_pair``: called after each layer pair is saved (tests use
    it to simulate a kill).

    Where the layer pairs are computed: in this process (the default), or, with ``scheduler`` (a
    Dask scheduler's address) or ``local_workers`` (a local Dask cluster of that many
    single-threaded worker processes; ``"gpu"``: one per GPU, on CuPy, :func:`run_backend`), or an
    :class:`~fcgraph.execution.Execution` with them, one Dask task per (condition, layer pair) not
    yet finished, each writing its part into the run folder (which the workers must see at the
    same path); this process then assembles the tables as in-process. The files are the same
    either way, but for the ``seconds`` of each layer pair (and ``backend_detail`` on GPU
    workers); see :mod:`fcgraph.fc.distributed`.
    ``unit_tiles`` (on a cluster only): split each layer pair into Dask tasks of that many post
    tiles (``tile`` tested post neurons each), so that several workers share a big pair, with
    the same files; 0 (the default): a task per layer pair. Not with ``fdr`` or ``dense``,
    which keep a task per layer pair; see :mod:`fcgraph.fc.split`.

    Returns one row per (condition, layer pair): condition, pre_layer, post_layer, the report
    counts (pairs, tested, untested, untested_pre, untested_post, zero_spread, nonfinite,
    negative_tail, significant, edges), nominal_rate (the normal tail of z), threshold_z (the
    z threshold used; NaN with fdr), candidates, backend, seconds, resumed (True when read from
    an earlier run) and, with calibrate, false_edge_rate (measured on control draw 0). Its
    ``attrs["features_reused"]``: the layer pairs computed here whose pre layer's exact-null
    features were handed on from the pair before (by the relay in-process, or kept by the
    worker that ran it; not with ``unit_tiles``) instead of computed again.

    With the default ``threshold="control"`` each layer pair first runs its image-reordered
    controls (draws 1, 2, ...) to set its threshold (:mod:`fcgraph.fc.threshold`), about
    doubling the time; the manifest's ``layer_pairs`` rows record it under ``threshold``.
    """
    from fcgraph.io import writing_into
    from fcgraph.mirror import local_run_folder
    from fcgraph.record.reader import open_recording

    if params is None:
        params = FcParams.create(**settings)
    elif settings:
        raise FcgraphError(f"give params or settings, not both ({', '.join(settings)})")
    at_least(tile, 1, "--tile")
    at_least(unit_tiles, 0, "--unit-tiles")
    if execution is None:
        execution = Execution.create(scheduler, local_workers)
    elif scheduler or local_workers:
        raise FcgraphError("give execution, or scheduler / local_workers, not both")
    be = run_backend(backend, execution)
    with local_run_folder(recording, progress=progress) as root:
        rec = open_recording(root)
        with writing_into(rec.path):
            return _compute(rec, conditions, params, be, tile, restart, progress, after_pair, execution,
                            unit_tiles)


def run_backend(backend: str | Backend, execution: Execution, *, warn: bool = True) -> Backend:
    """The backend of a run.

    On GPU workers (``--local-workers gpu``) it is CuPy: ``auto`` means ``cupy``, and the
    client (the workers' machine) checks here that CuPy can use a GPU, so that no cluster is
    started for nothing; each worker checks its own GPU again when its first unit starts
    (:func:`~fcgraph.fc.pair.worker_backend`). Elsewhere :func:`~fcgraph.fc.backend.get_backend`.

    Parameters
    ----------
    backend : str or Backend
        The backend asked for (``--backend``: numpy, torch[:device], cupy, auto), or one made.
    execution : Execution
        Where the units run.
    warn : bool
        :func:`~fcgraph.fc.backend.get_backend`'s: warn when ``auto`` sees an unusable GPU.

    Returns
    -------
    Backend
        The backend this process computes with, and whose name the workers are sent.

    Raises
    ------
    BadArgument
        Another backend than ``cupy`` or ``auto`` on GPU workers.
    FcgraphError
        On GPU workers, CuPy cannot use a GPU here.
    """
    if not execution.gpu_workers:
        return get_backend(backend, warn=warn)
    name = backend.name if isinstance(backend, Backend) else backend
    if name not in ("auto", "cupy"):
        raise BadArgument("--backend", f"{name} on GPU workers: --local-workers gpu runs fc on "
                                       "CuPy (give --backend cupy or auto)")
    if isinstance(backend, Backend):
        return backend
    try:
        return get_backend("cupy")
    except FcgraphError as exc:
        raise FcgraphError(f"--local-workers gpu: {exc}") from None


def _compute(rec: Recording, conditions: list[str] | None, params: FcParams, be: Backend, tile: int,
             restart: bool, progress: ProgressFn | None, after_pair: PairHook | None,
             execution: Execution, unit_tiles: int = 0) -> pd.DataFrame:
    """:func:`compute_run` once its arguments are checked and the recording opened."""
    import pandas as pd

    from fcgraph.fc.edge_states import ensure_edge_states
    from fcgraph.io import remove_stale_temps

    chosen = list(rec.conditions) if not conditions else list(dict.fromkeys(conditions))
    unknown = [c for c in chosen if c not in rec.conditions]
    if unknown:
        raise BadArgument("--condition", f"no condition {unknown[0]!r} in {rec.path}; recorded: "
                                         f"{', '.join(rec.conditions) or 'none'}")
    pairs = layer_pairs(rec.layers, params.pairs)
    if not pairs:
        raise FcgraphError(f"{rec.path} has no layer pair to correlate (one spiking layer?)")
    if params.null == "shift":  # one-line errors now rather than at the first layer pair
        draw_shifts(rec.L, params.n_shifts, params.min_shift,
                    rec.T if params.shift_unit == "T" else 1, params.seed)
    if params.null == "trial":
        trial_shifts(rec.L, rec.trials)
    lay = FcParts(rec.path)
    plan = _plan_for(rec, params)
    finished: dict[tuple[str, int], dict[str, Any]] = {}
    if not restart:
        _check_plan(lay, rec, plan)
        finished = _finished_pairs(lay, rec, params, chosen, pairs)
    # every spike file read below is hashed before anything is written
    rec.verify_all([c for c in rec.conditions if c in chosen or (lay.done(c).exists() and not restart)])
    remove_stale_temps(rec.path)  # the temp files of writers that were killed
    if restart:
        _restart(lay)
    if not lay.plan.exists():
        lay.parts.mkdir(parents=True, exist_ok=True)
        _write_json(lay.plan, plan)

    computed: dict[tuple[str, int], dict[str, Any]] = {}
    reused = 0  # layer pairs whose pre layer's exact-null features a Dask worker had kept
    todo = [(c, k, pre, post) for c in chosen for k, (pre, post) in enumerate(pairs)
            if (c, k) not in finished]
    if execution.distributed and todo:
        from fcgraph.execution import dask_client
        from fcgraph.fc.distributed import compute_on_cluster
        from fcgraph.fc.split import compute_split, splits

        with dask_client(execution) as client:
            assert client is not None
            if unit_tiles and splits(params):
                computed = compute_split(client, rec, params, be, tile, unit_tiles, todo, progress,
                                         after_pair)
            else:
                computed, reused = compute_on_cluster(client, pair_unit, rec, lay.plan, params, be, tile,
                                              todo, progress, after_pair)
        remove_stale_temps(rec.path)  # those of a worker killed mid-write (its unit was rerun)

    rows: list[dict[str, Any]] = []
    summaries: dict[str, list[dict[str, Any]]] = {}
    relay = FeatureRelay()
    for condition in chosen:
        summaries[condition] = []
        assembled = lay.done(condition).exists() and (rec.path / lay.edges_rel(condition)).exists()
        for k, (pre, post) in enumerate(pairs):
            resumed = (condition, k) in finished
            if resumed:
                summary = finished[condition, k]
                if progress is not None:
                    n = rec.layer(post).n_neurons
                    progress(f"{condition} {pre}->{post}", n, n)
            elif (condition, k) in computed:  # by a Dask worker
                summary = computed[condition, k]
            else:
                summary = _compute_pair(rec, lay, params, be, tile, condition, k, pre, post,
                                        progress, relay)
                if after_pair is not None:
                    after_pair(condition, pre, post)
            summaries[condition].append(summary)
            row = {key: summary.get(key) for key in ("condition", "pre_layer", "post_layer",
                                                     *COUNT_KEYS, "nominal_rate", "candidates",
                                                     "backend", "seconds")}
            row["threshold_z"] = (summary.get("threshold") or {}).get("z", float("nan"))
            row["resumed"] = resumed
            if params.calibrate:
                row["false_edge_rate"] = (summary.get("calibration") or {}).get("false_edge_rate")
            rows.append(row)
        if assembled:  # a run killed while removing the part tables leaves some
            _remove_part_tables(lay, condition, len(pairs))
        else:
            _assemble(lay, condition, len(pairs))

    done = [c for c in rec.conditions if lay.done(c).exists()
            and (rec.path / lay.edges_rel(c)).exists()]
    for condition in done:
        if condition not in summaries:
            summaries[condition] = [read_part(lay.part(condition, k)[1])[0]
                                    for k in range(len(pairs))]
    _write_neurons(rec, lay, done)
    _update_manifest(rec, lay, params, done, summaries)
    ensure_edge_states(rec.path, progress=progress)  # beside the edge tables, for ingest
    frame = pd.DataFrame(rows)
    frame.attrs["features_reused"] = relay.taken + reused
    return frame
