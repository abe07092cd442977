"""Architecture names, the model configuration stored in a checkpoint, and :func:`build_model`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from fcgraph.errors import BadArgument, choice
from fcgraph.models import sew, zoo
from fcgraph.models.classifier import SpikingClassifier
from fcgraph.models.neurons import NeuronSpec
from fcgraph.names import ARCHITECTURES as ARCHITECTURE_NAMES


def _build_sew_small(cfg: ModelConfig) -> nn.Module:
    return sew.sew_small(cfg.num_classes, cfg.neuron.builder(), cfg.in_channels)


def _build_tiny(cfg: ModelConfig) -> nn.Module:
    return sew.tiny(cfg.num_classes, cfg.neuron.builder(), cfg.in_channels)


def _build_sew_resnet18(cfg: ModelConfig) -> nn.Module:
    cls, kwargs = cfg.neuron.factory()
    return zoo.sew_resnet18(cfg.num_classes, cls, kwargs, cfg.in_channels)


def _build_spiking_resnet18(cfg: ModelConfig) -> nn.Module:
    cls, kwargs = cfg.neuron.factory()
    return zoo.spiking_resnet18(cfg.num_classes, cls, kwargs, cfg.in_channels)


#: Architecture name (:data:`fcgraph.names.ARCHITECTURES`, in that order) -> backbone builder.
#: All take 32x32 images.
ARCHITECTURES: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "sew-small": _build_sew_small,
    "sew-resnet18": _build_sew_resnet18,
    "spiking-resnet18": _build_spiking_resnet18,
    "tiny": _build_tiny,
}


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model: architecture, neuron, T, classes and normalisation.

    ``mean`` / ``std`` are per-channel pixel statistics (pixel units 0..1) applied inside the model.
    """

    architecture: str = "sew-small"
    num_classes: int = 10
    T: int = 8
    neuron: NeuronSpec = field(default_factory=NeuronSpec)
    in_channels: int = 3
    image_size: int = 32
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        check_architecture(self.architecture)
        if self.T < 1:
            raise BadArgument("--T", f"T must be at least 1 (got {self.T})")
        if self.num_classes < 2:
            raise BadArgument("num_classes", f"a classifier needs at least 2 classes "
                                             f"(got {self.num_classes})")
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise BadArgument("mean, std", "need one value per input channel")

    def to_json(self) -> dict[str, Any]:
        return {"architecture": self.architecture, "num_classes": self.num_classes, "T": self.T,
                "neuron": self.neuron.to_json(), "in_channels": self.in_channels,
                "image_size": self.image_size, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        """The config stored as ``data``: KeyError, TypeError or ValueError when a field is
        missing or malformed, :class:`BadArgument` for a value no model can have."""
        return cls(architecture=str(data["architecture"]), num_classes=int(data["num_classes"]),
                   T=int(data["T"]), neuron=NeuronSpec.from_json(data.get("neuron", {})),
                   in_channels=int(data.get("in_channels", 3)), image_size=int(data.get("image_size", 32)),
                   mean=tuple(float(v) for v in data["mean"]), std=tuple(float(v) for v in data["std"]))


def check_architecture(name: str) -> str:
    """``name`` if it is an architecture of :data:`fcgraph.names.ARCHITECTURES`, else
    :class:`BadArgument`."""
    return choice(name, ARCHITECTURE_NAMES, "--model", "model")


def build_model(config: ModelConfig, seed: int | None = None) -> SpikingClassifier:
    """A freshly initialised :class:`SpikingClassifier`; ``seed`` makes the initial weights reproducible."""
    if seed is not None:
        torch.manual_seed(seed)
    backbone = ARCHITECTURES[config.architecture](config)
    return SpikingClassifier(backbone, config.T, config.mean, config.std)
