"""The model fcgraph trains and records: pixel images in, T-averaged logits out.

:class:`SpikingClassifier` wraps a multi-step spiking backbone with what every stage needs:
normalisation inside the model (so noise and attacks work in pixel space, values 0..1), direct
encoding (the normalised image repeated for T steps), the time average of the classifier
output, and a state reset of every neuron before and after each batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from spikingjelly.activation_based import functional
from torch import nn


class SpikingClassifier(nn.Module):
    """``images`` [N, C, H, W] in pixel units (0..1) -> logits averaged over T steps [N, classes].

    ``backbone`` maps [T, N, C, H, W] to per-step logits [T, N, classes] in multi-step mode; its
    spiking layers are the instances of ``spikingjelly.activation_based.neuron.BaseNode``.
    """

    def __init__(self, backbone: nn.Module, T: int, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if T < 1:
            raise ValueError(f"T must be >= 1, got {T}")
        self.backbone = backbone
        self.T = int(T)
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))
        functional.set_step_mode(self.backbone, "m")

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Direct encoding: normalised ``images`` [N, C, H, W] repeated to [T, N, C, H, W]."""
        x = (images - self.mean) / self.std
        return x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)

    def step_logits(self, images: torch.Tensor) -> torch.Tensor:
        """Per-step logits [T, N, classes]; neuron states are reset before and after."""
        functional.reset_net(self.backbone)
        try:
            return self.backbone(self.encode(images))
        finally:
            functional.reset_net(self.backbone)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.step_logits(images).mean(0)
