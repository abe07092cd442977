"""Checkpoint folders: what ``fcgraph train`` writes and ``fcgraph record`` reads.

::

    CKPT/
      config.json      {"format": "fcgraph.checkpoint", "model": ModelConfig, "training": TrainConfig,
                        "dataset": {...}, "metrics": {...}, "complete": true, "versions": {...}}
      model.pt         the SpikingClassifier's state_dict (torch.save; loaded with weights_only=True)
      metrics.json     one record per epoch: train loss / accuracy, test accuracy, lr, seconds
      train_state.pt   optimizer, scheduler and epoch, to resume an interrupted training
      epochs/epoch-E.pt  the state_dict after epoch E, for each epoch of ``--keep-epochs``
                       (:func:`epoch_weights_path`; what ``record --condition epoch:E`` loads)

Every file is written atomically (temporary file, fsync, rename), so a killed training leaves
the previous epoch's files intact.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fcgraph.datasets import check_name
from fcgraph.errors import BadArgument, FcgraphError, reading
from fcgraph.io import atomic_write, atomic_write_text, read_json_object
from fcgraph.models.classifier import SpikingClassifier
from fcgraph.models.registry import ModelConfig, build_model

CHECKPOINT_FORMAT = "fcgraph.checkpoint"
CONFIG = "config.json"
WEIGHTS = "model.pt"
METRICS = "metrics.json"
TRAIN_STATE = "train_state.pt"
#: the folder of the weights kept after chosen epochs
EPOCHS = "epochs"


@dataclass(frozen=True)
class CheckpointConfig:
    """The parsed ``config.json`` of a checkpoint folder."""

    path: Path
    model: ModelConfig
    dataset: str
    split_seed: int
    seed: int
    complete: bool
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape a model's numbers."""
    import numpy
    import spikingjelly
    import torchvision

    import fcgraph

    return {"python": platform.python_version(), "fcgraph": fcgraph.__version__,
            "torch": torch.__version__, "torchvision": torchvision.__version__,
            "spikingjelly": getattr(spikingjelly, "__version__", "2.0.0"), "numpy": numpy.__version__}


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` atomically (temp file beside ``path``, fsync, rename)."""
    atomic_write(path, lambda fh: torch.save(obj, fh))


def load_torch(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU; a damaged file raises :class:`FcgraphError`."""
    if not Path(path).exists():
        raise FcgraphError(f"{path}: missing")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, pickle.UnpicklingError, EOFError, ...
        raise FcgraphError(f"{path}: cannot be read ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'damaged'})") from None


def state_dict_hash(model: nn.Module) -> str:
    """SHA-256 over the state_dict's names, dtypes, shapes and bytes (independent of file format)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def write_config(folder: Path, data: dict[str, Any]) -> None:
    atomic_write_text(Path(folder) / CONFIG, json.dumps(data, indent=2) + "\n")


def read_config(folder: Path) -> CheckpointConfig:
    """Parse ``folder/config.json``; :class:`FcgraphError` when the folder is not a checkpoint."""
    folder = Path(folder)
    if folder.is_file() and folder.name in (CONFIG, WEIGHTS):
        folder = folder.parent
    path = folder / CONFIG
    if not folder.is_dir():
        raise BadArgument(str(folder), "checkpoint folder does not exist")
    data = read_json_object(path, f"missing (is {folder} a checkpoint folder written by fcgraph train?)")
    if data.get("format") != CHECKPOINT_FORMAT:
        raise FcgraphError(f"{path}: not an fcgraph checkpoint config")
    try:
        with reading(path):  # a bad value names the file (bad data), not a flag
            model = ModelConfig.from_json(data["model"])
            dataset = check_name(str(data["dataset"]["name"]))
        return CheckpointConfig(path=folder, model=model, dataset=dataset,
                                split_seed=int(data["dataset"].get("split_seed", 0)),
                                seed=int(data.get("seed", 0)), complete=bool(data.get("complete")),
                                training=dict(data.get("training", {})),
                                metrics=dict(data.get("metrics", {})), raw=data)
    except FcgraphError:
        raise
    except KeyError as exc:
        raise FcgraphError(f"{path}: incomplete config (no {exc.args[0]!r} entry)") from None
    except (TypeError, ValueError) as exc:
        raise FcgraphError(f"{path}: bad config ({str(exc).splitlines()[0]})") from None


def epoch_weights_path(folder: Path, epoch: int) -> Path:
    """Where a checkpoint folder keeps the weights (state_dict) saved after ``epoch``:
    ``<folder>/epochs/epoch-<epoch>.pt``."""
    return Path(folder) / EPOCHS / f"epoch-{int(epoch)}.pt"


def kept_epochs(folder: Path) -> list[int]:
    """The epochs whose weights ``folder`` keeps (:func:`epoch_weights_path`), ascending."""
    found = (re.fullmatch(r"epoch-([1-9][0-9]*)\.pt", p.name)
             for p in (Path(folder) / EPOCHS).glob("epoch-*.pt"))
    return sorted(int(m.group(1)) for m in found if m)


def load_checkpoint(path: Path, *,
                    allow_incomplete: bool = False) -> tuple[SpikingClassifier, CheckpointConfig]:
    """(model in eval mode, its config) from a checkpoint folder (or its ``model.pt``)."""
    config = read_config(Path(path))
    if not config.complete and not allow_incomplete:
        done = config.metrics.get("epochs_done", 0)
        total = config.training.get("epochs", "?")
        raise FcgraphError(f"checkpoint {config.path} is incomplete (epoch {done} of {total}); "
                           "rerun the same fcgraph train command to finish it")
    model = load_weights(config, config.path / WEIGHTS)
    expected = config.raw.get("model_sha256")
    if expected and state_dict_hash(model) != expected:
        raise FcgraphError(f"{config.path / WEIGHTS}: corrupt (its weights' SHA-256 differs from "
                           f"model_sha256 in {config.path / CONFIG})")
    return model.eval(), config


def load_epoch(config: CheckpointConfig, epoch: int) -> SpikingClassifier:
    """The network kept after training epoch ``epoch`` (:func:`epoch_weights_path`, eval mode),
    checked against the SHA-256 its training recorded (``kept_sha256`` in config.json; trainings
    older than that record have none to check); :class:`FcgraphError` when it differs."""
    path = epoch_weights_path(config.path, epoch)
    model = load_weights(config, path)
    expected = (config.raw.get("kept_sha256") or {}).get(str(int(epoch)))
    if expected and state_dict_hash(model) != expected:
        raise FcgraphError(f"{path}: corrupt or replaced (its weights' SHA-256 differs from "
                           f"kept_sha256 of epoch {int(epoch)} in {config.path / CONFIG})")
    return model


def load_weights(config: CheckpointConfig, path: Path) -> SpikingClassifier:
    """The architecture of ``config`` with the state_dict saved at ``path`` (eval mode);
    :class:`FcgraphError` when the file is damaged or does not fit the architecture."""
    model = build_model(config.model, seed=0)
    state = load_torch(path)
    if not isinstance(state, dict):
        raise FcgraphError(f"{path}: not a state_dict")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise FcgraphError(f"{path}: does not fit the {config.model.architecture} "
                           f"in config.json ({_misfit(model, state, exc)})") from None
    return model.eval()


def _misfit(model: nn.Module, state: dict[str, Any], exc: RuntimeError) -> str:
    """How ``state`` fails to fit ``model``: counts of missing, unexpected and reshaped weights."""
    want = model.state_dict()
    groups = [("missing", [k for k in want if k not in state]),
              ("unexpected", [k for k in state if k not in want]),
              ("of another shape", [k for k in want if k in state and hasattr(state[k], "shape")
                                    and tuple(state[k].shape) != tuple(want[k].shape)])]
    parts = [f"{len(keys)} {what}, e.g. {keys[0]}" for what, keys in groups if keys]
    return "; ".join(parts) or str(exc).splitlines()[0]
