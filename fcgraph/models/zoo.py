"""ResNet-18s from spikingjelly's model zoo, given a CIFAR stem for 32x32 inputs.

The ImageNet stem (7x7 stride-2 conv and a 3x3 max pool) is replaced by a 3x3 stride-1 conv and
no pool, so a 32x32 image reaches the residual stages at 32x32 (64 channels) and the last stage
at 4x4 (512 channels). ``sew-resnet18`` uses SEW blocks with ADD connect (its downsampling
shortcuts have their own neurons, ``downsample_sn``); ``spiking-resnet18`` is the plain spiking
ResNet (neurons after the residual sum). Both are multi-step: [T, N, 3, 32, 32] ->
[T, N, num_classes].
"""

from __future__ import annotations

from typing import Any

from spikingjelly.activation_based import functional, layer
from spikingjelly.activation_based.model import sew_resnet, spiking_resnet
from torch import nn


def _cifar_stem(net: nn.Module, in_channels: int) -> nn.Module:
    net.conv1 = layer.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    functional.set_step_mode(net, "m")
    return net


def sew_resnet18(num_classes: int, neuron_cls: type[nn.Module], neuron_kwargs: dict[str, Any],
                 in_channels: int = 3) -> nn.Module:
    """spikingjelly's SEW ResNet-18 (ADD connect) with a CIFAR stem."""
    net = sew_resnet.sew_resnet18(pretrained=False, cnf="ADD", spiking_neuron=neuron_cls,
                                  num_classes=num_classes, **neuron_kwargs)
    return _cifar_stem(net, in_channels)


def spiking_resnet18(num_classes: int, neuron_cls: type[nn.Module], neuron_kwargs: dict[str, Any],
                     in_channels: int = 3) -> nn.Module:
    """spikingjelly's spiking ResNet-18 with a CIFAR stem."""
    net = spiking_resnet.spiking_resnet18(pretrained=False, spiking_neuron=neuron_cls,
                                          num_classes=num_classes, **neuron_kwargs)
    return _cifar_stem(net, in_channels)
