"""``record``: run a trained model on N images under each condition and write the spikes.

Every spiking layer is hooked with spikingjelly's ``monitor.OutputMonitor`` (multi-step, one
[T, B, ...] output per batch), and the hook bit-packs each output at once (32x smaller than
the float spikes). Packed batches are held until ``flush_bytes`` accumulate and then copied
into each layer's file at their byte offset (see :mod:`fcgraph.record.layout`), so memory is
bounded by one batch plus ``flush_bytes`` whatever N is. After each flush the condition's
progress (images done, spike counts, correct predictions) is saved atomically; rerunning the
same command after a kill resumes from there. Finished conditions are kept, so a rerun with
more conditions records only the new ones, and the manifest lists every finished condition.
On a Dask cluster the images are recorded in chunks, one task each, and the files assembled from
the chunks' parts (:mod:`fcgraph.record.distributed`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from fcgraph import faults
from fcgraph.contract import RunManifest
from fcgraph.datasets import default_data_root
from fcgraph.errors import BadArgument, FcgraphError, at_least
from fcgraph.execution import Execution, ProgressFn
from fcgraph.io import atomic_write_text, remove_stale_temps, writing_into
from fcgraph.mirror import local_run_folder
from fcgraph.record import layout
from fcgraph.record.compute import (
    check_epochs,
    condition_model,
    count_batch,
    drop_parts,
    prepare,
    recorded_batches,
)
from fcgraph.record.conditions import Condition, parse_all
from fcgraph.record.manifest import safe_run_id, write_recording_manifest
from fcgraph.record.state import (
    Setup,
    complete_files_ok,
    fresh_progress,
    load_progress,
    save_progress,
)
from fcgraph.record.writer import ArrayFileWriter, BufferedSpikeWriters, SpikeFileWriter
from fcgraph.run_folder import RunFolder

#: Packed spikes held in memory before they are written (bounds memory whatever N is).
FLUSH_BYTES = 16 << 20


def record(checkpoint: Path, out: Path | str, conditions: list[str], n_images: int, *,
           dataset: str | None = None, split: str = "test", data_root: Path | None = None,
           download: bool = True, batch_size: int = 64, seed: int = 0, run_id: str | None = None,
           command: str | None = None, overwrite: bool = False, flush_bytes: int = FLUSH_BYTES,
           trials: int = 1, progress: ProgressFn | None = None, execution: Execution | None = None,
           chunk_images: int = layout.CHUNK_IMAGES) -> RunManifest:
    """Record ``conditions`` of the first ``n_images`` of ``dataset``/``split`` into folder ``out``.

    ``trials``: present the images that many times, trial-major (presentation r n_images + i
    is image i in trial r; the manifest's ``n_images`` counts presentations and its recording
    section ``trials``). Input noise differs from trial to trial (its seed is the
    presentation), so repeated trials under a noise condition are what ``fcgraph fc --null
    trial`` separates coordination from shared stimulus drive with.

    ``dataset`` defaults to the checkpoint's (with its train/test split). ``batch_size`` is
    rounded up to a multiple of 8 / gcd(T, 8) images so chunks fill whole bytes. Spikes are held
    until ``flush_bytes`` of them accumulate (at least one batch), then written, and the
    progress saved: a killed recording resumes from the last such flush. ``progress(task, done,
    total)`` is called as images are done. Returns the manifest written to ``out/manifest.json``.

    ``execution``: where the images are run (:class:`~fcgraph.execution.Execution`; default in
    this process). On a Dask cluster each (condition, chunk of ``chunk_images`` images, rounded
    up to whole batches) is one task whose worker writes the chunk's part, and this process
    assembles the files, identical to an in-process recording's (:mod:`fcgraph.record.distributed`);
    the workers need the checkpoint, the images and ``out`` at the same paths. In this process
    the chunks are used only to finish the conditions that such a run left parts of.

    ``out`` may be a URL (``s3://bucket/run``): the recording is made in its local mirror and
    sent to the store (:func:`fcgraph.mirror.local_run_folder`); workers then need the URL's
    credentials rather than ``out`` at the same path.
    """
    parsed = parse_all(conditions)
    if run_id is not None and safe_run_id(run_id) != run_id:
        raise BadArgument("--run-id", f"bad --run-id {run_id!r}: use letters, digits, _ . - "
                                      "(starting with a letter or digit)")
    at_least(n_images, 1, "--n-images")
    at_least(batch_size, 1, "--batch-size")
    at_least(trials, 1, "--trials")
    at_least(chunk_images, 1, "--chunk-images")
    execution = execution or Execution()
    with local_run_folder(out, progress=progress) as folder:
        return _record(Path(checkpoint), folder, parsed, n_images, dataset, split, data_root,
                       download, batch_size, seed, run_id, command, overwrite, flush_bytes, trials,
                       progress, execution, chunk_images)


def _record(checkpoint: Path, out: Path, parsed: list[Condition], n_images: int,
            dataset: str | None, split: str, data_root: Path | None, download: bool,
            batch_size: int, seed: int, run_id: str | None, command: str | None, overwrite: bool,
            flush_bytes: int, trials: int, progress: ProgressFn | None, execution: Execution,
            chunk_images: int) -> RunManifest:
    """:func:`record` into a local folder."""
    if RunFolder(out).root.exists() and not Path(out).is_dir():
        raise BadArgument("--out", f"{out} is a file, not a folder")
    setup = prepare(Path(checkpoint), Path(out), n_images, dataset, split, data_root, download,
                    batch_size, seed, trials)
    check_epochs(setup, parsed)
    report = progress or (lambda task, done, total: None)
    with writing_into(setup.root):
        _claim_folder(setup.root, setup.plan, overwrite)
        _write_labels(setup)
        if execution.distributed or _any_parts(setup, parsed):
            from fcgraph.record.distributed import record_chunks

            # what the workers load: this process's paths, absolute, and its images (downloaded)
            worker_args = (str(Path(checkpoint).resolve()), str(setup.root.resolve()), n_images,
                           dataset, split,
                           str(Path(data_root or default_data_root()).expanduser().resolve()),
                           False, batch_size, seed, trials)
            record_chunks(setup, parsed, worker_args, execution, report, flush_bytes, chunk_images)
        else:
            for condition in parsed:
                _record_condition(setup, condition, report, flush_bytes)
        return write_recording_manifest(setup, parsed, run_id, command)


def _any_parts(setup: Setup, conditions: list[Condition]) -> bool:
    """True when a stopped run on a Dask cluster left chunks of an unfinished condition."""
    if not RunFolder(setup.root).record_parts.is_dir():
        return False
    from fcgraph.record.distributed import has_parts

    return any(has_parts(setup, c) for c in conditions)


def _claim_folder(root: Path, plan: dict[str, Any], overwrite: bool) -> None:
    """Create ``root`` for this plan, or check that it holds the same recording (to resume)."""
    run = RunFolder(root)
    plan_path = run.record_plan
    if root.exists() and not root.is_dir():
        raise FcgraphError(f"{root} is a file, not a folder; choose another --out")
    remove_stale_temps(root)
    if plan_path.exists():
        try:
            old = json.loads(plan_path.read_text())
        except ValueError:
            if not overwrite:
                raise FcgraphError(f"{plan_path}: unreadable; pass --overwrite to start the "
                                   "recording over") from None
            old = {}
        if old != plan and not overwrite:
            diff = sorted(k for k in plan if old.get(k) != plan[k])
            raise FcgraphError(f"{root} holds a recording with other settings ({', '.join(diff)}); "
                               "choose another --out or pass --overwrite")
        if old == plan:
            return
    elif root.exists() and not _unclaimed(root) and not overwrite:
        raise FcgraphError(f"{root} is not empty and is not an fcgraph recording; choose a new --out")
    if overwrite:
        for folder in (run.root / "spikes", run.record_state):
            shutil.rmtree(folder, ignore_errors=True)
        for file in (run.labels, run.manifest):
            file.unlink(missing_ok=True)
    atomic_write_text(plan_path, json.dumps(plan, indent=1) + "\n")


def _unclaimed(root: Path) -> bool:
    """True when ``root`` is empty, or holds only the empty state folder of a recording killed
    before its plan was saved."""
    entries = list(root.iterdir())
    state = RunFolder(root).record_state
    return not entries or (entries == [state] and state.is_dir() and not any(state.iterdir()))


def _write_labels(setup: Setup) -> None:
    """``labels.npy``: the int64 label of each recorded image (written once, atomically)."""
    path = RunFolder(setup.root).labels
    if path.exists():
        return
    labels = np.concatenate([lab.numpy() for _, lab in setup.data.batches(max(setup.batch_size, 256))])
    tmp = layout.partial(path)
    with open(tmp, "wb") as fh:
        np.save(fh, labels.astype(np.int64))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _record_condition(setup: Setup, condition: Condition, report: ProgressFn, flush_bytes: int) -> None:
    """Record one condition, resuming from its saved progress; skip it when already complete."""
    state = load_progress(setup, condition)
    n, T = len(setup.data), setup.T
    if complete_files_ok(setup, condition, state):
        report(condition.name, n, n)
        return
    run = RunFolder(setup.root)
    paths = [run.bits(condition.name, la.name) for la in setup.layers] + [run.predictions(condition.name)]
    if state.get("complete") or not all(layout.partial(p).exists() for p in paths):
        state = fresh_progress(setup, condition.name)  # nothing to resume from: start over
    rows = layout.row_bytes(T, n)
    writers = {la.name: SpikeFileWriter(path, la.n_neurons, rows)
               for la, path in zip(setup.layers, paths, strict=False)}
    predictions = ArrayFileWriter(paths[-1], n)
    model = condition_model(setup, condition, report)
    start = int(state["done"])
    buffer = BufferedSpikeWriters(writers, T, start, flush_bytes)
    report(condition.name, start, n)
    began = time.perf_counter()
    for packed, predicted, labels, clean_ok in recorded_batches(setup, condition, model, start, n):
        count_batch(state, packed, predicted, labels, clean_ok)
        predictions.write(start, predicted.numpy().astype(np.int64))
        start += len(labels)
        faults.checkpoint("record.batch")
        if buffer.add_batch(packed, len(labels)) or start == n:
            now = time.perf_counter()
            state.update(done=buffer.flush(), seconds=state["seconds"] + now - began)
            began = now
            faults.checkpoint("record.flush")
            save_progress(setup, state)  # everything counted so far is in the files
        report(condition.name, start, n)
    files = {}
    for writer in [*writers.values(), predictions]:
        digest = writer.finish()
        files[str(writer.path.relative_to(setup.root))] = {"sha256": digest,
                                                          "bytes": writer.path.stat().st_size}
        faults.checkpoint("record.finish")
    state["seconds"] += time.perf_counter() - began  # fsync and checksums count too
    state.update(complete=True, files=files)
    save_progress(setup, state)
    drop_parts(setup, condition)  # those of an earlier run on a cluster, not needed now
