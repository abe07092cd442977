"""Training: Adam with a cosine learning-rate schedule, cross-entropy on the T-averaged output.

Deterministic on CPU: the initial weights come from ``seed`` and epoch e visits the training
images in the order ``numpy.random.default_rng([seed, e]).permutation(n)``, so an interrupted
training resumed from its last finished epoch (``train_state.pt``) ends with exactly the weights
an uninterrupted one would have.

``keep_epochs``: after each listed epoch the weights are also saved, atomically, at
:func:`~fcgraph.models.checkpoint.epoch_weights_path` (before the resume state, so a kill never
loses one); a resumed training keeps those already saved. They do not change the weights, so a
training may be resumed with another list.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fcgraph.datasets import ImageData, check_name, load_dataset
from fcgraph.errors import BadArgument, FcgraphError, at_least, number_in
from fcgraph.io import atomic_write_text
from fcgraph.models.checkpoint import (
    CHECKPOINT_FORMAT,
    CONFIG,
    EPOCHS,
    METRICS,
    TRAIN_STATE,
    WEIGHTS,
    atomic_torch_save,
    epoch_weights_path,
    load_torch,
    package_versions,
    state_dict_hash,
    write_config,
)
from fcgraph.models.classifier import SpikingClassifier
from fcgraph.models.neurons import NeuronSpec
from fcgraph.models.registry import ModelConfig, build_model, check_architecture

#: on_batch(epoch, batches_done, n_batches, running_loss, running_accuracy)
BatchCallback = Callable[[int, int, int, float, float], None]
#: on_epoch(record): record holds epoch, train_loss, train_accuracy, test_accuracy, lr, seconds
EpochCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainConfig:
    """What a training run depends on; two runs with equal configs give equal weights on CPU.

    ``train_limit`` / ``test_limit`` keep only the first images of each split (quick runs);
    ``keep_epochs``: the epochs (1 .. ``epochs``) after which the weights are also kept.
    """

    architecture: str = "sew-small"
    dataset: str = "digits"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    T: int = 8
    neuron: NeuronSpec = field(default_factory=NeuronSpec)
    seed: int = 0
    split_seed: int = 0
    train_limit: int | None = None
    test_limit: int | None = None
    keep_epochs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_architecture(self.architecture)
        check_name(self.dataset)
        at_least(self.epochs, 1, "--epochs")
        at_least(self.batch_size, 1, "--batch-size")
        at_least(self.T, 1, "--T")
        number_in(self.lr, "--lr", 0, open_low=True)
        number_in(self.weight_decay, "--weight-decay", 0)
        for flag, limit in (("--train-limit", self.train_limit), ("--test-limit", self.test_limit)):
            if limit is not None:
                at_least(limit, 1, flag)
        for epoch in self.keep_epochs:
            if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= self.epochs:
                raise BadArgument("--keep-epochs", f"epoch {epoch} is not in 1..{self.epochs} "
                                                   "(the epochs of this training)")
        object.__setattr__(self, "keep_epochs", tuple(sorted(set(self.keep_epochs))))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["neuron"] = self.neuron.to_json()
        return data


#: TrainConfig fields that do not change the weights (a training resumes whatever they are)
NOT_WEIGHTS = ("keep_epochs",)


def parse_epochs(text: str) -> tuple[int, ...]:
    """``"1,3"`` -> (1, 3): the epochs of ``--keep-epochs`` (:class:`BadArgument` when one is
    not a whole number)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise BadArgument("--keep-epochs", f"{text!r} is not a comma-separated list of epochs "
                                           "(e.g. 1,3)")
    return tuple(int(p) for p in parts)


def evaluate(model: SpikingClassifier, data: ImageData, batch_size: int = 128) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` in eval mode on every image of ``data``."""
    model.eval()
    correct, loss, n = 0, 0.0, 0
    with torch.no_grad():
        for images, labels in data.batches(batch_size):
            logits = model(images)
            loss += float(nn.functional.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(1) == labels).sum())
            n += len(labels)
    return correct / max(n, 1), loss / max(n, 1)


def _epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def _resume_state(out: Path, config: TrainConfig) -> dict[str, Any] | None:
    """The saved state to resume from, None for a fresh start; error when ``out`` holds another run."""
    state_path = out / TRAIN_STATE
    if not state_path.exists():
        if (out / CONFIG).exists() or (out / WEIGHTS).exists() or (out / EPOCHS).exists():
            raise FcgraphError(f"{out} already holds a checkpoint without resume state; "
                               "choose another --out or pass --restart")
        return None
    state = load_torch(state_path)
    saved = _weight_settings(json.loads(state.get("config_json", "null")) or {})
    wanted = _weight_settings(config.to_json())
    if saved != wanted:
        diff = sorted(k for k in wanted if saved.get(k) != wanted[k])
        raise FcgraphError(f"{out} holds a training with other settings ({', '.join(diff)}); "
                           "choose another --out or pass --restart")
    return state


def _weight_settings(config_json: dict[str, Any]) -> dict[str, Any]:
    """A TrainConfig's JSON without the fields that do not change the weights."""
    return {k: v for k, v in config_json.items() if k not in NOT_WEIGHTS}


def train(config: TrainConfig, out: Path, *, data_root: Path | None = None, download: bool = True,
          restart: bool = False, on_batch: BatchCallback | None = None,
          on_epoch: EpochCallback | None = None) -> dict[str, Any]:
    """Train ``config`` into checkpoint folder ``out`` (resuming it if interrupted); returns config.json."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadArgument("--out", f"{out} is a file, not a folder")
    train_data = load_dataset(config.dataset, "train", data_root=data_root,
                              split_seed=config.split_seed, download=download)
    test_data = load_dataset(config.dataset, "test", data_root=data_root,
                             split_seed=config.split_seed, download=download)
    if config.train_limit:
        train_data = train_data.first(min(config.train_limit, len(train_data)))
    if config.test_limit:
        test_data = test_data.first(min(config.test_limit, len(test_data)))
    model_config = ModelConfig(architecture=config.architecture, num_classes=train_data.num_classes,
                               T=config.T, neuron=config.neuron, mean=train_data.mean, std=train_data.std)
    if restart:
        for name in (TRAIN_STATE, CONFIG, WEIGHTS, METRICS):
            (out / name).unlink(missing_ok=True)
        for kept in (out / EPOCHS).glob("epoch-*.pt"):
            kept.unlink()
        with suppress(OSError):  # absent, or holding other files
            (out / EPOCHS).rmdir()
    state = _resume_state(out, config) if out.exists() else None
    model = build_model(model_config, seed=config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    history: list[dict[str, Any]] = []
    start_epoch = 1
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = json.loads(state["history_json"])
        start_epoch = int(state["epoch"]) + 1
    base = {"format": CHECKPOINT_FORMAT, "format_version": 1, "model": model_config.to_json(),
            "training": config.to_json(), "seed": config.seed,
            "dataset": {"name": config.dataset, "split_seed": config.split_seed,
                        "num_classes": train_data.num_classes, "train_images": len(train_data),
                        "test_images": len(test_data)},
            "versions": package_versions()}
    result = dict(base, complete=start_epoch > config.epochs, metrics=_summary(history, config))
    n = len(train_data)
    n_batches = -(-n // config.batch_size)
    for epoch in range(start_epoch, config.epochs + 1):
        began = time.perf_counter()
        model.train()
        lr = optimizer.param_groups[0]["lr"]
        total_loss, correct, seen = 0.0, 0, 0
        order = _epoch_order(config.seed, epoch, n)
        for b, (images, labels) in enumerate(train_data.batches(config.batch_size, order), start=1):
            logits = model(images)
            loss = nn.functional.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(labels)
            correct += int((logits.detach().argmax(1) == labels).sum())
            seen += len(labels)
            if on_batch:
                on_batch(epoch, b, n_batches, total_loss / seen, correct / seen)
        scheduler.step()
        test_acc, test_loss = evaluate(model, test_data, batch_size=max(config.batch_size, 128))
        record = {"epoch": epoch, "train_loss": total_loss / seen, "train_accuracy": correct / seen,
                  "test_loss": test_loss, "test_accuracy": test_acc, "lr": lr,
                  "seconds": time.perf_counter() - began}
        history.append(record)
        result = _save_epoch(out, model, optimizer, scheduler, config, history, base)
        if on_epoch:
            on_epoch(record)
    return result


def _summary(history: list[dict[str, Any]], config: TrainConfig) -> dict[str, Any]:
    if not history:
        return {"epochs_done": 0}
    last = history[-1]
    return {"epochs_done": last["epoch"], "test_accuracy": last["test_accuracy"],
            "train_accuracy": last["train_accuracy"], "train_loss": last["train_loss"],
            "best_test_accuracy": max(h["test_accuracy"] for h in history),
            "train_seconds": sum(h["seconds"] for h in history)}


def _save_epoch(out: Path, model: SpikingClassifier, optimizer: torch.optim.Optimizer,
                scheduler: Any, config: TrainConfig, history: list[dict[str, Any]],
                base: dict[str, Any]) -> dict[str, Any]:
    """Write the epoch's kept weights (if asked), weights, metrics, config and resume state for
    the epoch just finished."""
    epoch = history[-1]["epoch"]
    if epoch in config.keep_epochs:
        atomic_torch_save(model.state_dict(), epoch_weights_path(out, epoch))
        history[-1]["kept_sha256"] = state_dict_hash(model)
    atomic_torch_save(model.state_dict(), out / WEIGHTS)
    atomic_write_text(out / METRICS, json.dumps({"epochs": history}, indent=2) + "\n")
    result = dict(base, complete=epoch >= config.epochs, metrics=_summary(history, config),
                  model_sha256=state_dict_hash(model),
                  kept_sha256={str(h["epoch"]): h["kept_sha256"] for h in history if "kept_sha256" in h})
    write_config(out, result)
    atomic_torch_save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                       "scheduler": scheduler.state_dict(), "config_json": json.dumps(config.to_json()),
                       "history_json": json.dumps(history)}, out / TRAIN_STATE)
    return result
