"""``fcgraph record`` in chunks of images: one Dask task per (condition, image chunk).

:func:`~fcgraph.record.recorder.record` with a scheduler or local workers
(:class:`~fcgraph.execution.Execution`) claims the folder, writes the plan and the labels as
in-process, then hands every chunk not finished by an earlier run to :func:`record_chunks`.
Chunks are ranges of ``chunk_images`` images (rounded up to whole batches, so a chunk runs the
very batches the in-process loop runs, and fills whole bytes of every row). Each task
(:func:`record_unit`) loads the checkpoint and the images on its worker (once per worker
process: the model of each condition is kept, so a permuted network is shuffled, an
untrained one's BatchNorm recalibrated on the recorded images, and a kept epoch's weights
loaded, once per worker), checks that
they give the client's plan, and writes the chunk's part: every layer's packed spikes and the
predictions of its images (``.record/.parts/<slug>/<start>-<stop>/``, written through the
same chunked writers as a recording, so a worker's memory is bounded by ``flush_bytes`` plus
one batch), then its counts (``<start>-<stop>.json``, atomically, last: a part whose JSON
exists is complete). The client then assembles each condition's files from the parts in
order, in row blocks of at most ``flush_bytes``, checksums them and saves the condition's
progress and the manifest as in-process; the condition's parts are then removed.

What is the same: every file of the folder is identical to an in-process recording's, byte for
byte, but for the timing fields (``seconds``, the manifest's ``created``). A condition's
``seconds`` is the sum of its chunks' times plus the assembly.

Faults: a worker killed mid-chunk loses only that chunk (Dask reruns it elsewhere); a scheduler
lost mid-run ends the run with one line and a rerun, on any cluster or in-process, records only
the chunks without a part (with the same ``chunk_images``).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fcgraph import faults
from fcgraph.errors import FcgraphError
from fcgraph.execution import ProgressFn
from fcgraph.parts import part_key, read_part, write_part
from fcgraph.record import layout
from fcgraph.record.compute import (
    condition_model,
    count_batch,
    drop_parts,
    prepare,
    recorded_batches,
)
from fcgraph.record.conditions import Condition, parse
from fcgraph.record.state import Setup, complete_files_ok, fresh_progress, load_progress, save_progress
from fcgraph.record.writer import ArrayFileWriter, BufferedSpikeWriters, SpikeFileWriter
from fcgraph.run_folder import RunFolder, condition_slug

if TYPE_CHECKING:
    from fcgraph.execution import Execution
    from fcgraph.models.classifier import SpikingClassifier

#: The format of a chunk's part (in its key: a part of another format is recomputed).
PART_FORMAT = "fcgraph.record.chunk/1"
#: The counts a chunk's part holds (summed over the chunks into the condition's progress).
COUNTS = ("correct", "clean_correct", "fooled")

#: What a worker process keeps between tasks: the setup of one recording, its conditions' models.
_worker: dict[str, Any] = {}
#: One chunk at a time per worker process: the kept models carry the spike monitor's hooks.
_worker_lock = threading.Lock()


def chunk_ranges(n_images: int, chunk_images: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each chunk: ``chunk_images`` rounded up to whole batches.

    Parameters
    ----------
    n_images : int
        Images (presentations) of the recording.
    chunk_images : int
        Images per chunk asked for.
    batch_size : int
        The recording's batch size (a multiple of :func:`~fcgraph.record.layout.chunk_multiple`).

    Returns
    -------
    list of (int, int)
        The chunks in order; the last may be shorter.
    """
    size = max(-(-int(chunk_images) // batch_size), 1) * batch_size
    return [(s, min(s + size, n_images)) for s in range(0, n_images, size)]


def _part_json(setup: Setup, condition: str, start: int, stop: int) -> Path:
    folder = RunFolder(setup.root).record_part(condition, start, stop)
    return folder.with_name(folder.name + ".json")


def _key(setup: Setup, condition: str, start: int, stop: int) -> str:
    return part_key(PART_FORMAT, setup.plan, condition, start, stop)


def read_chunk(setup: Setup, condition: Condition, start: int, stop: int) -> dict[str, Any] | None:
    """The counts of a finished chunk's part, or None when it is missing, damaged or of other
    settings."""
    try:
        found = read_part(_part_json(setup, condition.name, start, stop))
    except FcgraphError:
        return None
    if found is None or found[1] != _key(setup, condition.name, start, stop):
        return None
    folder = RunFolder(setup.root).record_part(condition.name, start, stop)
    width = layout.row_bytes(setup.T, stop - start)
    sizes = [((folder / f"{la.name}.bits"), la.n_neurons * width) for la in setup.layers]
    if not all(p.exists() and p.stat().st_size == size for p, size in sizes) or \
            not (folder / "predictions.npy").exists():
        return None
    return found[0]


def record_chunk(setup: Setup, condition: Condition, model: SpikingClassifier, start: int,
                 stop: int, flush_bytes: int) -> dict[str, Any]:
    """Record images ``start .. stop`` of ``condition`` into their part (module doc).

    Parameters
    ----------
    setup : Setup
        The recording.
    condition : Condition
        The condition.
    model : SpikingClassifier
        The condition's network (:func:`~fcgraph.record.compute.condition_model`).
    start, stop : int
        The chunk's images (``start`` a multiple of the batch size).
    flush_bytes : int
        Packed spikes held before they are written.

    Returns
    -------
    dict
        The chunk's counts: ``spike_counts`` (layer -> spikes), ``correct``, ``clean_correct``,
        ``fooled``, ``seconds``. A part already saved is read, not recomputed.
    """
    found = read_chunk(setup, condition, start, stop)
    if found is not None:
        return found
    began = time.perf_counter()
    folder = RunFolder(setup.root).record_part(condition.name, start, stop)
    width = layout.row_bytes(setup.T, stop - start)
    writers = {la.name: SpikeFileWriter(folder / f"{la.name}.bits", la.n_neurons, width)
               for la in setup.layers}
    predictions = ArrayFileWriter(folder / "predictions.npy", stop - start)
    buffer = BufferedSpikeWriters(writers, setup.T, 0, flush_bytes)
    full = fresh_progress(setup, condition.name)
    counts: dict[str, Any] = {"spike_counts": full["spike_counts"], **{k: full[k] for k in COUNTS}}
    at = 0
    for packed, predicted, labels, clean_ok in recorded_batches(setup, condition, model, start, stop):
        count_batch(counts, packed, predicted, labels, clean_ok)
        faults.checkpoint("record.batch")
        predictions.write(at, predicted.numpy().astype(np.int64))
        at += len(labels)
        if buffer.add_batch(packed, len(labels)):
            buffer.flush()
    buffer.flush()
    for writer in [*writers.values(), predictions]:
        writer.finish(checksum=False)
    counts["seconds"] = time.perf_counter() - began
    write_part(_part_json(setup, condition.name, start, stop), _key(setup, condition.name, start, stop),
               counts)
    return counts


def record_unit(args: tuple[Any, ...], condition: str, start: int, stop: int,
                flush_bytes: int) -> dict[str, Any]:
    """One chunk as a Dask task records it on a worker (:func:`record_chunk`).

    Parameters
    ----------
    args : tuple
        The arguments of the recording's set-up (checkpoint, folder, images, dataset, ...:
        absolute paths, as the client sees them).
    condition : str
        The condition's name.
    start, stop : int
        The chunk's images.
    flush_bytes : int
        Packed spikes held before they are written.

    Returns
    -------
    dict
        The chunk's counts.

    Raises
    ------
    FcgraphError
        The worker's checkpoint or images are not the client's (their plan differs).
    """
    with _worker_lock:
        key = json.dumps(args, default=str)
        if _worker.get("key") != key:
            _worker.clear()
            checkpoint, root, *rest, data_root, download, batch_size, seed, trials = args
            _worker.update(key=key, models={}, setup=prepare(
                Path(checkpoint), Path(root), *rest, Path(data_root), download, batch_size, seed,
                trials))
        setup: Setup = _worker["setup"]
        plan_path = RunFolder(setup.root).record_plan
        plan = json.loads(plan_path.read_text())
        if plan != setup.plan:
            diff = sorted(k for k in plan if setup.plan.get(k) != plan[k])
            raise FcgraphError(f"the checkpoint or images this worker loads differ from the "
                               f"client's ({', '.join(diff)} of {plan_path})")
        cond = parse(condition)
        models = _worker["models"]
        if condition not in models:
            models[condition] = condition_model(setup, cond, lambda task, done, total: None)
        return record_chunk(setup, cond, models[condition], start, stop, flush_bytes)


def assemble(setup: Setup, condition: Condition, chunks: list[tuple[int, int]],
             counts: list[dict[str, Any]], flush_bytes: int) -> None:
    """Write ``condition``'s files from its chunks' parts, save its progress as complete (as
    the in-process loop does) and remove the parts.

    Parameters
    ----------
    setup : Setup
        The recording.
    condition : Condition
        The condition.
    chunks : list of (int, int)
        Every chunk of the recording, in order.
    counts : list of dict
        Each chunk's counts (:func:`record_chunk`).
    flush_bytes : int
        The most bytes of a part read at once.
    """
    began = time.perf_counter()
    run = RunFolder(setup.root)
    n, T = len(setup.data), setup.T
    state = fresh_progress(setup, condition.name)
    for found in counts:
        for name in state["spike_counts"]:
            state["spike_counts"][name] += int(found["spike_counts"][name])
        for k in COUNTS:
            state[k] += int(found[k])
    files = {}
    for la in setup.layers:
        writer = SpikeFileWriter(run.bits(condition.name, la.name), la.n_neurons, layout.row_bytes(T, n))
        for start, stop in chunks:
            width = layout.row_bytes(T, stop - start)
            part = np.memmap(run.record_part(condition.name, start, stop) / f"{la.name}.bits",
                             dtype=np.uint8, mode="r", shape=(la.n_neurons, width))
            step = max(1, flush_bytes // max(width, 1))
            for row in range(0, la.n_neurons, step):
                writer.write(start * T // 8, np.asarray(part[row:row + step]), row)
            del part
        files[run.relative(writer.path)] = {"sha256": writer.finish(),
                                            "bytes": writer.path.stat().st_size}
    predictions = ArrayFileWriter(run.predictions(condition.name), n)
    for start, stop in chunks:
        predictions.write(start, np.load(run.record_part(condition.name, start, stop) / "predictions.npy"))
    files[run.relative(predictions.path)] = {"sha256": predictions.finish(),
                                             "bytes": predictions.path.stat().st_size}
    seconds = sum(float(found["seconds"]) for found in counts) + time.perf_counter() - began
    state.update(done=n, seconds=seconds, complete=True, files=files)
    save_progress(setup, state)
    drop_parts(setup, condition)


def has_parts(setup: Setup, condition: Condition) -> bool:
    """True when an earlier run left chunk parts of ``condition`` (a run on a cluster, stopped)."""
    folder = RunFolder(setup.root).record_parts / condition_slug(condition.name)
    return folder.is_dir() and any(folder.glob("*.json"))


def record_chunks(setup: Setup, conditions: list[Condition], worker_args: tuple[Any, ...],
                  execution: Execution, report: ProgressFn, flush_bytes: int,
                  chunk_images: int) -> None:
    """Record ``conditions`` chunk by chunk, then assemble their files (module doc): the chunks
    without a part on the cluster of ``execution`` (started only if there is one), or in this
    process without one (to finish the chunks of a run on a cluster that stopped).

    Parameters
    ----------
    setup : Setup
        The recording (its plan and labels written).
    conditions : list of Condition
        The conditions to record (those complete are reported done and skipped: with all
        complete, no cluster is started).
    worker_args : tuple
        The set-up's arguments for the workers (:func:`record_unit`).
    execution : Execution
        Where the chunks run.
    report : callable
        ``report(condition, images done, images)``.
    flush_bytes : int
        Packed spikes held before they are written (on each worker too).
    chunk_images : int
        Images per chunk (rounded up to whole batches).
    """
    n = len(setup.data)
    conditions = _pending(setup, conditions, report)
    chunks = chunk_ranges(n, chunk_images, setup.batch_size)
    found: dict[tuple[str, int], dict[str, Any]] = {}
    todo: list[tuple[Condition, int, int]] = []
    done: dict[str, int] = {}
    for condition in conditions:
        done[condition.name] = 0
        for start, stop in chunks:
            counts = read_chunk(setup, condition, start, stop)
            if counts is None:
                todo.append((condition, start, stop))
            else:
                found[condition.name, start] = counts
                done[condition.name] += stop - start
        report(condition.name, done[condition.name], n)

    def finished(i: int, counts: dict[str, Any]) -> None:
        condition, start, stop = todo[i]
        found[condition.name, start] = counts
        done[condition.name] += stop - start
        report(condition.name, done[condition.name], n)

    if todo and execution.distributed:
        from fcgraph.execution import check_shared_folder, dask_client, run_units

        run = RunFolder(setup.root)
        args = [(worker_args, c.name, start, stop, flush_bytes) for c, start, stop in todo]
        with dask_client(execution) as client:
            assert client is not None
            check_shared_folder(client, run.record_state.resolve(), run.record_plan.name)
            run_units(client, record_unit, args, finished, name="fcgraph-record",
                      describe=lambda i: f"images {todo[i][1]}..{todo[i][2] - 1} of {todo[i][0].name}")
    else:  # in this process: todo is in condition order, one network at a time
        model, of = None, None
        for i, (condition, start, stop) in enumerate(todo):
            if of != condition.name:
                model, of = condition_model(setup, condition, report), condition.name
            finished(i, record_chunk(setup, condition, model, start, stop, flush_bytes))
    for condition in conditions:
        assemble(setup, condition, chunks, [found[condition.name, start] for start, _ in chunks],
                 flush_bytes)
        report(condition.name, n, n)


def _pending(setup: Setup, conditions: list[Condition], report: ProgressFn) -> list[Condition]:
    """The conditions not complete yet (those complete are reported done)."""
    out = []
    n = len(setup.data)
    for condition in conditions:
        if complete_files_ok(setup, condition, load_progress(setup, condition)):
            report(condition.name, n, n)
        else:
            out.append(condition)
    return out
