"""What recording a condition computes, shared by the in-process loop
(:mod:`fcgraph.record.recorder`) and the chunks of a run on a Dask cluster
(:mod:`fcgraph.record.distributed`): the set-up, the condition's network, its batches with their
packed spikes, and the counts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import torch
from spikingjelly.activation_based import monitor, neuron

from fcgraph.datasets import load_dataset
from fcgraph.errors import BadArgument
from fcgraph.execution import ProgressFn
from fcgraph.models.checkpoint import (
    epoch_weights_path,
    kept_epochs,
    load_checkpoint,
    load_epoch,
    state_dict_hash,
)
from fcgraph.models.classifier import SpikingClassifier
from fcgraph.models.registry import build_model
from fcgraph.models.structure import spiking_layers
from fcgraph.record import layout
from fcgraph.record.conditions import (
    CALIBRATION_BATCH,
    FLAG,
    Condition,
    add_noise,
    attack,
    permuted,
    recalibrate_batchnorm,
)
from fcgraph.record.state import Setup
from fcgraph.record.writer import pack_chunk, spike_count
from fcgraph.run_folder import RunFolder, condition_slug

#: progress(task, done, total), the signature of ``fcgraph.cli.progress.task_progress``.


def prepare(checkpoint: Path, root: Path, n_images: int, dataset: str | None, split: str,
            data_root: Path | None, download: bool, batch_size: int, seed: int,
            trials: int = 1) -> Setup:
    """Load the checkpoint and the images and check them: the :class:`Setup` of a recording
    (``batch_size`` rounded up to whole bytes, the plan that the folder's ``plan.json`` holds)."""
    model, config = load_checkpoint(checkpoint)
    name = dataset or config.dataset
    split_seed = config.split_seed if name == config.dataset else 0
    data = load_dataset(name, split, data_root=data_root, split_seed=split_seed, download=download)
    if n_images > len(data):
        raise BadArgument("--n-images", f"{n_images} is too many: {name} {split} has {len(data)} "
                                         "images")
    if data.num_classes > config.model.num_classes:
        raise BadArgument("--dataset", f"{name} has {data.num_classes} classes but the model only "
                                       f"{config.model.num_classes}")
    data = data.first(n_images).repeated(trials)
    T = config.model.T
    multiple = layout.chunk_multiple(T)
    batch_size = -(-batch_size // multiple) * multiple
    layers = spiking_layers(model.backbone, T, (config.model.in_channels, config.model.image_size,
                                                 config.model.image_size))
    plan = {"model_sha256": state_dict_hash(model), "architecture": config.model.architecture,
            "T": T, "dataset": name, "split": split, "split_seed": split_seed, "n_images": n_images,
            "seed": seed, "batch_size": batch_size,
            "layers": [[la.name, list(la.shape)] for la in layers]}
    if trials > 1:  # absent for one trial: the plans of earlier recordings stay valid
        plan["trials"] = trials
    return Setup(root, model, config, data, layers, T, batch_size, seed, plan)


def check_epochs(setup: Setup, conditions: list[Condition]) -> None:
    """:class:`BadArgument` (one line) when the checkpoint keeps no weights for an ``epoch:E``
    condition of ``conditions``, naming the epochs it keeps and how to keep others;
    :class:`FcgraphError` when kept weights are not those its training saved
    (:func:`~fcgraph.models.checkpoint.load_epoch`)."""
    kept = kept_epochs(setup.checkpoint.path)
    missing = [c.name for c in conditions
               if c.kind == "epoch" and not epoch_weights_path(setup.checkpoint.path,
                                                               int(c.epoch or 0)).exists()]
    if missing:
        have = f"kept: {', '.join(f'epoch:{e}' for e in kept)}" if kept else "none kept"
        raise BadArgument(FLAG, f"no weights for {', '.join(missing)} in {setup.checkpoint.path} "
                                f"({have}); train with `fcgraph train --keep-epochs E,...` to "
                                "keep the weights after those epochs")
    for c in conditions:
        if c.kind == "epoch":
            load_epoch(setup.checkpoint, int(c.epoch or 0))  # a replaced file: before any write


def condition_model(setup: Setup, condition: Condition, report: ProgressFn) -> SpikingClassifier:
    """The network ``condition`` records: the checkpoint's, permuted, untrained with its
    BatchNorm recalibrated on the recorded images (reported as task ``<condition> (BatchNorm)``),
    or the one kept after a training epoch (``epoch:E``, BatchNorm as saved)."""
    if condition.kind == "permute":
        return permuted(setup.model, condition, setup.seed)
    if condition.kind == "epoch":
        return load_epoch(setup.checkpoint, int(condition.epoch or 0))
    if condition.kind == "untrained":
        model = build_model(setup.checkpoint.model, seed=setup.seed)
        task = f"{condition.name} (BatchNorm)"
        n = len(setup.data)
        report(task, 0, n)
        batches = (im for im, _ in setup.data.batches(CALIBRATION_BATCH))
        return recalibrate_batchnorm(model, batches,
                                     progress=lambda done: report(task, done, n))
    return setup.model.eval()


def recorded_batches(setup: Setup, condition: Condition, model: SpikingClassifier, start: int,
                     stop: int) -> Iterator[tuple[dict[str, np.ndarray], torch.Tensor, torch.Tensor,
                                                  torch.Tensor | None]]:
    """Run images ``start .. stop`` through ``model`` under ``condition``, batch by batch.

    Batches are those of the whole recording (``setup.batch_size`` images from image 0), so
    ``start`` must be a multiple of the batch size: a chunk of a recording computes exactly
    what the whole recording computes for its images.

    Yields
    ------
    tuple
        (layer -> packed spikes (n_neurons, B T / 8) uint8, predicted classes [B], labels [B],
        for attacks whether the clean model gets each image right [B] (else None)).
    """
    with monitor.OutputMonitor(model.backbone, instance=neuron.BaseNode,
                               function_on_output=lambda s: pack_chunk(s.detach())) as mon:
        mon.disable()
        for images, labels in setup.data.batches(setup.batch_size, start=start):
            if start >= stop:
                return
            x, clean_ok = inputs(setup, condition, model, images, labels, range(start, start + len(labels)))
            mon.enable()
            with torch.no_grad():
                predicted = model(x).argmax(1)
            mon.disable()
            packed = {la.name: mon[la.name][0] for la in setup.layers}  # packed in the hook
            mon.clear_recorded_data()
            start += len(labels)
            yield packed, predicted, labels, clean_ok


def count_batch(counts: dict[str, Any], packed: dict[str, np.ndarray], predicted: torch.Tensor,
                labels: torch.Tensor, clean_ok: torch.Tensor | None) -> None:
    """Add a batch's spikes, correct predictions and attack outcomes to ``counts`` (a progress
    dict, :func:`~fcgraph.record.state.fresh_progress`)."""
    for name, rows in packed.items():
        counts["spike_counts"][name] += spike_count(rows)
    counts["correct"] += int((predicted == labels).sum())
    if clean_ok is not None:
        counts["clean_correct"] += int(clean_ok.sum())
        counts["fooled"] += int(((predicted != labels) & clean_ok).sum())


def drop_parts(setup: Setup, condition: Condition) -> None:
    """Remove the chunk parts of ``condition`` (once its files are complete), and the parts
    folder when it is left empty."""
    run = RunFolder(setup.root)
    shutil.rmtree(run.record_parts / condition_slug(condition.name), ignore_errors=True)
    with suppress(OSError):
        run.record_parts.rmdir()


def inputs(setup: Setup, condition: Condition, model: SpikingClassifier, images: torch.Tensor,
           labels: torch.Tensor, ids: range) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(the batch as the condition presents it, for attacks which images the clean model gets right)."""
    if condition.kind in ("uniform", "gaussian"):
        return add_noise(condition, images, ids, setup.seed), None
    if condition.is_attack:
        with torch.no_grad():
            clean_ok = model(images).argmax(1) == labels
        return attack(condition, model, images, labels, ids, setup.seed), clean_ok
    return images, None
