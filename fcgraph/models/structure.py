"""Find a model's spiking layers, their shapes and which spiking layers feed each one.

Nothing here is a hand-kept list. A spiking layer is any module that is an instance of
spikingjelly's ``neuron.BaseNode``; :func:`spiking_layers` runs one small forward pass on a
throw-away copy of the backbone with the neurons in training mode (so their outputs carry the
surrogate-gradient graph) and

- orders the layers by when they fire in the forward pass (``order`` 0, 1, ...);
- takes each layer's per-step output shape: (C, H, W) for conv layers, (N,) for dense ones;
- walks the autograd graph back from each layer's input until it meets the output of another
  spiking layer: those are its feeders. Paths through convolutions, BatchNorm, pooling, sums
  and reshapes are followed, so a residual shortcut makes every spiking layer whose spikes reach
  a block's sum a feeder of the next layer (residual stages feed forward). The image feeds the
  first layer, which has no spiking feeder.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from fcgraph.contract import LayerInfo
from fcgraph.errors import FcgraphError


def neuron_modules(backbone: nn.Module) -> dict[str, nn.Module]:
    """Name -> module of every spiking layer (``neuron.BaseNode``), in module-registration order."""
    return {name: mod for name, mod in backbone.named_modules() if isinstance(mod, neuron.BaseNode)}


def _feeders(start: Any, producers: dict[int, str]) -> set[str]:
    """Spiking layers whose output node is reached walking back from autograd node ``start``."""
    found: set[str] = set()
    stack = [start]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if id(node) in producers:
            found.add(producers[id(node)])
            continue
        stack.extend(fn for fn, _ in node.next_functions)
    return found


def spiking_layers(backbone: nn.Module, T: int, in_shape: tuple[int, int, int]) -> list[LayerInfo]:
    """The spiking layers of a multi-step ``backbone`` in forward order, with shapes and feeders.

    ``in_shape`` is one image's (C, H, W); ``T`` the number of steps. The backbone itself is not
    touched (the trace runs on a deep copy).
    """
    probe = copy.deepcopy(backbone).train()
    functional.set_step_mode(probe, "m")
    modules = neuron_modules(probe)
    if not modules:
        raise FcgraphError("the model has no spiking layers (no spikingjelly neuron.BaseNode)")
    calls: list[str] = []
    inputs: dict[str, torch.Tensor] = {}
    outputs: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def record(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> None:
            if name in outputs:
                raise FcgraphError(f"spiking layer {name!r} is called twice in one forward pass; "
                                   "its spikes would be ambiguous")
            calls.append(name)
            inputs[name] = args[0]
            outputs[name] = out
        return record

    handles = [mod.register_forward_hook(hook(name)) for name, mod in modules.items()]
    try:
        generator = torch.Generator().manual_seed(0)
        x = torch.rand((T, 2, *in_shape), generator=generator)
        with torch.enable_grad():
            functional.reset_net(probe)
            probe(x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in modules if name not in outputs]
    if missing:
        raise FcgraphError(f"spiking layers never called in a forward pass: {missing}")
    producers: dict[int, str] = {}
    for name in calls:
        node = outputs[name].grad_fn
        if node is None:
            raise FcgraphError(f"cannot trace the structure: layer {name!r} has no gradient graph")
        producers[id(node)] = name
    order = {name: i for i, name in enumerate(calls)}
    layers = []
    for name in calls:
        out = outputs[name]
        shape = tuple(int(d) for d in out.shape[2:])
        if len(shape) not in (1, 3):
            raise FcgraphError(f"spiking layer {name!r} has per-step shape {list(shape)}; "
                               "expected (C, H, W) or (N,)")
        start = inputs[name].grad_fn
        feeds = sorted(_feeders(start, producers) - {name}, key=order.__getitem__)
        layers.append(LayerInfo(name=name, order=order[name], shape=shape, feeds_from=tuple(feeds)))
    return layers
