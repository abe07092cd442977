"""Small SEW spiking ResNets built from spikingjelly layers: ``sew-small`` and ``tiny``.

``sew-small`` at 32x32 input (shapes (C, H, W) per step; 9 spiking layers)::

    conv 3->8, BN, neurons            sn1             (8, 32, 32)   8192
    stage 1 (8 ch, stride 1)          layer1.0.sn1    (8, 32, 32)   8192
                                      layer1.0.sn2    (8, 32, 32)   8192
    stage 2 (16 ch, stride 2)         layer2.0.sn1    (16, 16, 16)  4096
                                      layer2.0.sn2    (16, 16, 16)  4096
    stage 3 (32 ch, stride 2)         layer3.0.sn1    (32, 8, 8)    2048
                                      layer3.0.sn2    (32, 8, 8)    2048
    average pool to 4x4, flatten      (512 values)
    dense 512 -> 1024, neurons        fc1.sn          (1024,)
    dense 1024 -> 1024, neurons       fc2.sn          (1024,)
    classifier 1024 -> classes        (no neurons: logits per step)

A residual block is conv3x3-BN-neurons-conv3x3-BN-neurons, and its output is the element-wise
sum (SEW "ADD" connect) of those spikes and the block input; when the block changes width or
resolution the shortcut is a 1x1 conv + BN (no neurons, so the downsampling path adds no
spiking layer). The dense layers have no BatchNorm. Every module runs in multi-step mode:
tensors are ``[T, N, ...]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from spikingjelly.activation_based import layer
from torch import nn


class SEWBlock(nn.Module):
    """One SEW residual block with ADD connect: ``shortcut(x) + sn2(bn2(conv2(sn1(bn1(conv1(x))))))``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 make_neuron: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.conv1 = layer.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = layer.BatchNorm2d(out_channels)
        self.sn1 = make_neuron()
        self.conv2 = layer.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = layer.BatchNorm2d(out_channels)
        self.sn2 = make_neuron()
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                layer.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                layer.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` [T, N, C_in, H, W] -> [T, N, C_out, H / stride, W / stride]."""
        out = self.sn2(self.bn2(self.conv2(self.sn1(self.bn1(self.conv1(x))))))
        identity = x if self.downsample is None else self.downsample(x)
        return identity + out


class DenseSpiking(nn.Module):
    """A fully connected layer followed by spiking neurons: [T, N, F_in] -> [T, N, F_out] spikes."""

    def __init__(self, in_features: int, out_features: int, make_neuron: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.linear = layer.Linear(in_features, out_features)
        self.sn = make_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sn(self.linear(x))


class SEWNet(nn.Module):
    """A SEW spiking ResNet: conv stem, residual stages, average pool, spiking dense layers, classifier.

    Args:
        stem: channels of the stem conv (3x3, stride 1).
        widths: channels of each residual stage; ``strides`` its stride; ``blocks`` per stage.
        pool: side of the square average pool output.
        dense: widths of the spiking dense layers after the pool.
        num_classes: classifier outputs.
        make_neuron: returns a fresh multi-step neuron layer.
        in_channels: image channels.
    """

    def __init__(self, *, stem: int, widths: Sequence[int], strides: Sequence[int], blocks: int,
                 pool: int, dense: Sequence[int], num_classes: int,
                 make_neuron: Callable[[], nn.Module], in_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = layer.Conv2d(in_channels, stem, 3, stride=1, padding=1, bias=False)
        self.bn1 = layer.BatchNorm2d(stem)
        self.sn1 = make_neuron()
        channels = stem
        self.stages: list[str] = []
        for i, (width, stride) in enumerate(zip(widths, strides, strict=True), start=1):
            stage = [SEWBlock(channels, width, stride, make_neuron)]
            stage += [SEWBlock(width, width, 1, make_neuron) for _ in range(blocks - 1)]
            self.add_module(f"layer{i}", nn.Sequential(*stage))
            self.stages.append(f"layer{i}")
            channels = width
        self.avgpool = layer.AdaptiveAvgPool2d((pool, pool))
        features = channels * pool * pool
        self.dense: list[str] = []
        for i, width in enumerate(dense, start=1):
            self.add_module(f"fc{i}", DenseSpiking(features, width, make_neuron))
            self.dense.append(f"fc{i}")
            features = width
        self.fc = layer.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` [T, N, C, H, W] (normalised images) -> logits per step [T, N, num_classes]."""
        x = self.sn1(self.bn1(self.conv1(x)))
        for name in self.stages:
            x = getattr(self, name)(x)
        x = torch.flatten(self.avgpool(x), 2)
        for name in self.dense:
            x = getattr(self, name)(x)
        return self.fc(x)


def sew_small(num_classes: int, make_neuron: Callable[[], nn.Module], in_channels: int = 3) -> SEWNet:
    """sew-small (docs/design.md): stem 8, stages 8/16/32 (strides 1, 2, 2), pool 4x4, dense 1024, 1024."""
    return SEWNet(stem=8, widths=(8, 16, 32), strides=(1, 2, 2), blocks=1, pool=4, dense=(1024, 1024),
                  num_classes=num_classes, make_neuron=make_neuron, in_channels=in_channels)


def tiny(num_classes: int, make_neuron: Callable[[], nn.Module], in_channels: int = 3) -> SEWNet:
    """A test-sized SEW net: stem 4 at 32x32, stages 8/16 (strides 2, 2), pool 2x2, dense 64.

    Spiking layers at 32x32: (4, 32, 32), (8, 16, 16) x2, (16, 8, 8) x2, (64,).
    """
    return SEWNet(stem=4, widths=(8, 16), strides=(2, 2), blocks=1, pool=2, dense=(64,),
                  num_classes=num_classes, make_neuron=make_neuron, in_channels=in_channels)
