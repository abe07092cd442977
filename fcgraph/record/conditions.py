"""Recording conditions: what is changed (the images or the weights) before spikes are recorded.

``clean``
    the trained model on the unchanged images.
``uniform:A``
    every pixel (and channel) gets independent uniform noise in [-A, A] (pixel units 0..1), then
    the image is clipped to [0, 1].
``gaussian:S``
    independent Gaussian noise of SD S per pixel and channel, then clipped to [0, 1].
``uniform:A:rK``, ``gaussian:S:rK`` (K = 2, 3, ...)
    draw K of the same noise: the same distribution, its own random draw (noise is seeded by the
    condition's name). Several draws of a negligible noise (``uniform:0.001``,
    ``uniform:0.001:r2``, ...) make a reliability floor of several noise seeds.
``fgsm:E``
    fast gradient sign attack (Goodfellow et al. 2015): x + E sign(grad_x loss), clipped to
    [0, 1]; loss = cross-entropy of the T-averaged output against the true label; the gradient
    flows through the neurons' surrogate (ATan) while BatchNorm stays in eval mode.
``pgd:E:STEPS``
    projected gradient descent (Madry et al. 2018) in the L-infinity ball of radius E: a uniform
    random start in the ball, then STEPS signed steps of 2.5 E / STEPS, each projected back onto
    the ball and [0, 1]. Same loss and gradient as ``fgsm``.
``permute:layer``
    every weight tensor (each conv and linear layer, the classifier included) has its entries
    shuffled by one random permutation over the whole tensor: each layer keeps its multiset of
    weight values, while which input meets which weight is destroyed. Biases, BatchNorm and the
    neurons' parameters are unchanged.
``permute:unit``
    as ``permute:layer`` but each output unit's fan-in (one conv filter, or one row of a linear
    layer) is shuffled on its own, so every unit also keeps its own multiset of weights.
``untrained``
    the same architecture with seeded random initial weights. Such a network is silent in eval
    mode (BatchNorm's initial statistics, mean 0 and variance 1, do not match its activity), so
    its BatchNorm running statistics are first recalibrated on the recorded (clean) images: one
    pass in batches of ``CALIBRATION_BATCH`` images (whatever the recording's batch size) with
    BatchNorm in training mode, averaging the batch statistics (momentum None); nothing else is
    fitted.
``epoch:E`` (E = 1, 2, ...)
    the network as it was after training epoch E: the weights ``fcgraph train --keep-epochs``
    saved then (:func:`~fcgraph.models.checkpoint.epoch_weights_path` of the checkpoint
    folder), BatchNorm running statistics as saved; otherwise recorded like ``clean``. A
    training checkpoint: the findings report it beside the trained network, it gates no verdict.

Randomness comes from the recording seed only: noise and PGD starts are drawn per image from a
generator seeded by (seed, condition name, image index), so they do not depend on batch size
or on resuming; permutations are seeded by (seed, condition name, parameter name).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from spikingjelly.activation_based import neuron
from torch import nn

from fcgraph.contract import CONDITION_USAGE, ConditionInfo, parse_condition
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.models.classifier import SpikingClassifier

KINDS = ("clean", "uniform", "gaussian", "fgsm", "pgd", "permute", "untrained", "epoch")
PERMUTE_SCHEMES = ("layer", "unit")
#: Images per batch when the ``untrained`` condition recalibrates BatchNorm.
CALIBRATION_BATCH = 64
#: The flag that names conditions, in every command.
FLAG = "--condition"
#: the draw suffix of a noise condition: ``rK``, K >= 2 (draw 1 is the name without it)
NOISE_DRAWS = ("uniform", "gaussian")


@dataclass(frozen=True)
class Condition:
    """A parsed condition: ``level`` is A, S or E; ``steps`` PGD's steps; ``scheme`` permute's
    scheme; ``draw`` a noise condition's draw (1, or K of ``:rK``); ``epoch`` the training
    epoch whose weights ``epoch:E`` records."""

    name: str
    kind: str
    level: float | None = None
    steps: int | None = None
    scheme: str | None = None
    draw: int = 1
    epoch: int | None = None

    @property
    def info(self) -> ConditionInfo:
        return parse_condition(self.name)

    @property
    def is_attack(self) -> bool:
        return self.kind in ("fgsm", "pgd")

    @property
    def changes_weights(self) -> bool:
        return self.kind in ("permute", "untrained", "epoch")

    def describe(self) -> dict[str, object]:
        """JSON details for the manifest."""
        out: dict[str, object] = {"kind": self.kind}
        if self.level is not None:
            out["level"] = self.level
        if self.draw > 1:
            out["draw"] = self.draw
        if self.kind == "pgd":
            out.update(steps=self.steps, step_size=2.5 * float(self.level or 0) / int(self.steps or 1),
                       random_start=True)
        if self.kind == "permute":
            out["scheme"] = self.scheme
        if self.kind == "untrained":
            out["batchnorm"] = "running statistics recalibrated on the recorded clean images"
        if self.kind == "epoch":
            out.update(epoch=self.epoch, weights="kept by fcgraph train --keep-epochs after this "
                                                 "epoch (BatchNorm statistics as saved)")
        return out


def parse(name: str) -> Condition:
    """Check and parse a condition name; :class:`BadArgument` says what is wrong, in one line."""

    def bad(why: str) -> BadArgument:
        return BadArgument(FLAG, f"bad condition {name!r}: {why} (conditions: {CONDITION_USAGE})")

    try:
        info = parse_condition(name.strip())
    except FcgraphError:
        raise bad("expected kind[:level[:...]]") from None
    kind, parts = info.kind, info.name.split(":")[1:]

    if kind not in KINDS:
        raise bad(f"unknown kind {kind!r}")
    if kind in ("clean", "untrained"):
        if parts:
            raise bad(f"{kind} takes no level")
        return Condition(info.name, kind)
    if kind == "permute":
        if len(parts) != 1 or parts[0] not in PERMUTE_SCHEMES:
            raise bad(f"permute needs a scheme, one of {', '.join(PERMUTE_SCHEMES)}")
        return Condition(info.name, kind, scheme=parts[0])
    if kind == "epoch":
        if len(parts) != 1 or not re.fullmatch(r"[1-9][0-9]*", parts[0]):
            raise bad("expected epoch:E with E a whole number >= 1 (an epoch of the training)")
        return Condition(info.name, kind, epoch=int(parts[0]))
    wanted = 2 if kind == "pgd" else 1
    draw = 1
    if kind in NOISE_DRAWS and len(parts) == 2:
        if not re.fullmatch(r"r([2-9]|[1-9][0-9]+)", parts[1]):
            raise bad(f"the draw must be r2, r3, ... (expected {kind}:LEVEL[:rK])")
        draw, parts = int(parts[1][1:]), parts[:1]
    if len(parts) != wanted:
        raise bad("expected pgd:E:STEPS" if kind == "pgd" else f"expected {kind}:LEVEL")
    try:
        level = float(parts[0])
    except ValueError:
        raise bad(f"level {parts[0]!r} is not a number") from None
    if not 0 < level <= 1:
        raise bad("the level must be in (0, 1] (pixel units)")
    steps = None
    if kind == "pgd":
        if not parts[1].isdigit() or int(parts[1]) < 1:
            raise bad("STEPS must be a positive integer")
        steps = int(parts[1])
    return Condition(info.name, kind, level=level, steps=steps, draw=draw)


def parse_all(names: Iterable[str]) -> list[Condition]:
    """Parse every name; duplicates and an empty list are errors."""
    parsed = [parse(n) for n in names]
    if not parsed:
        raise BadArgument(FLAG, "no condition given (e.g. --condition clean)")
    seen: set[str] = set()
    for c in parsed:
        if c.name in seen:
            raise BadArgument(FLAG, f"condition {c.name!r} given twice")
        seen.add(c.name)
    return parsed


def derived_seed(*parts: object) -> int:
    """A 63-bit seed from any parts (stable across runs and platforms)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _per_image(seed: int, name: str, ids: Iterable[int], shape: tuple[int, ...],
               draw: Callable[[tuple[int, ...], torch.Generator], torch.Tensor]) -> torch.Tensor:
    """Stack one draw per image, each from a generator seeded by (seed, name, image index)."""
    gen = torch.Generator()
    out = []
    for i in ids:
        gen.manual_seed(derived_seed(seed, name, int(i)))
        out.append(draw(shape, gen))
    return torch.stack(out)


def add_noise(condition: Condition, images: torch.Tensor, ids: Iterable[int], seed: int) -> torch.Tensor:
    """``images`` [B, C, H, W] (0..1) plus the condition's uniform or Gaussian noise, clipped to [0, 1]."""
    level = float(condition.level or 0.0)
    shape = tuple(images.shape[1:])
    if condition.kind == "uniform":
        noise = _per_image(seed, condition.name, ids, shape,
                           lambda s, g: (torch.rand(s, generator=g) * 2 - 1) * level)
    elif condition.kind == "gaussian":
        noise = _per_image(seed, condition.name, ids, shape, lambda s, g: torch.randn(s, generator=g) * level)
    else:
        raise ValueError(condition.kind)
    return (images + noise).clamp(0.0, 1.0)


@contextmanager
def surrogate_gradients(model: SpikingClassifier) -> Iterator[SpikingClassifier]:
    """The model in eval mode except its neurons, which use their surrogate gradient (same forward)."""
    was_training = model.training
    model.eval()
    for module in model.modules():
        if isinstance(module, neuron.BaseNode):
            module.train()
    try:
        yield model
    finally:
        model.train(was_training)


def input_gradient(model: SpikingClassifier, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """d(cross-entropy of the T-averaged output)/d(images), through the surrogate gradient."""
    x = images.detach().clone().requires_grad_(True)
    with surrogate_gradients(model), torch.enable_grad():
        loss = nn.functional.cross_entropy(model(x), labels)
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def attack(condition: Condition, model: SpikingClassifier, images: torch.Tensor, labels: torch.Tensor,
           ids: Iterable[int], seed: int) -> torch.Tensor:
    """Adversarial images for ``fgsm:E`` or ``pgd:E:STEPS`` (pixel units, clipped to [0, 1])."""
    eps = float(condition.level or 0.0)
    if condition.kind == "fgsm":
        return (images + eps * input_gradient(model, images, labels).sign()).clamp(0.0, 1.0).detach()
    steps = int(condition.steps or 1)
    alpha = 2.5 * eps / steps
    start = _per_image(seed, condition.name, ids, tuple(images.shape[1:]),
                       lambda s, g: (torch.rand(s, generator=g) * 2 - 1) * eps)
    x = (images + start).clamp(0.0, 1.0)
    for _ in range(steps):
        x = x + alpha * input_gradient(model, x, labels).sign()
        x = torch.minimum(torch.maximum(x, images - eps), images + eps).clamp(0.0, 1.0)
    return x.detach()


def weight_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """Name -> ``weight`` of every convolution and linear layer (what ``permute`` shuffles)."""
    return {f"{name}.weight" if name else "weight": mod.weight for name, mod in model.named_modules()
            if isinstance(mod, nn.Conv2d | nn.Linear | nn.Conv1d | nn.Conv3d)}


def permuted(model: SpikingClassifier, condition: Condition, seed: int) -> SpikingClassifier:
    """A copy of ``model`` whose conv / linear weights are shuffled by ``condition.scheme``."""
    out = copy.deepcopy(model)
    gen = torch.Generator()
    with torch.no_grad():
        for name, weight in weight_parameters(out).items():
            gen.manual_seed(derived_seed(seed, condition.name, name))
            if condition.scheme == "layer":
                flat = weight.reshape(-1)
                weight.copy_(flat[torch.randperm(flat.numel(), generator=gen)].view_as(weight))
            else:
                rows = weight.reshape(weight.shape[0], -1)
                order = torch.argsort(torch.rand(rows.shape, generator=gen), dim=1)
                weight.copy_(torch.gather(rows, 1, order).view_as(weight))
    return out.eval()


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def recalibrate_batchnorm(model: SpikingClassifier,
                          batches: Iterable[torch.Tensor],
                          progress: Callable[[int], None] | None = None) -> SpikingClassifier:
    """Replace every BatchNorm's running statistics by their average over ``batches`` of images.

    Only the running means and variances change (BatchNorm in training mode, momentum None,
    under no_grad); the model is returned in eval mode.
    """
    layers = batchnorm_layers(model)
    momenta = [bn.momentum for bn in layers]
    model.eval()
    for bn in layers:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    done = 0
    with torch.no_grad():
        for images in batches:
            model(images)
            done += len(images)
            if progress:
                progress(done)
    for bn, momentum in zip(layers, momenta, strict=True):
        bn.momentum = momentum
    return model.eval()
