"""Spiking neuron choices: parametric LIF (default), LIF and IF from spikingjelly 2.0.

Defaults follow docs/design.md: initial tau 2.0, threshold 1.0, hard reset to 0, detached reset,
ATan surrogate gradient with alpha 2. Every neuron runs in multi-step mode: input and output
are ``[T, N, ...]`` tensors, the output a 0/1 float spike tensor of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from spikingjelly.activation_based import neuron, surrogate
from torch import nn

from fcgraph.errors import BadArgument, choice, number_in
from fcgraph.names import NEURON_TYPES

#: Neuron name (:data:`fcgraph.names.NEURON_TYPES`, in that order) -> spikingjelly class.
NEURON_KINDS: dict[str, type[neuron.BaseNode]] = {
    "plif": neuron.ParametricLIFNode,
    "lif": neuron.LIFNode,
    "if": neuron.IFNode,
}


@dataclass(frozen=True)
class NeuronSpec:
    """A neuron model and its parameters (tau is ignored by ``if``; it is the initial tau of ``plif``)."""

    kind: str = "plif"
    tau: float = 2.0
    v_threshold: float = 1.0
    v_reset: float = 0.0
    detach_reset: bool = True
    surrogate_alpha: float = 2.0

    def __post_init__(self) -> None:
        choice(self.kind, NEURON_TYPES, "--neuron", "neuron")
        number_in(self.tau, "--tau")
        if self.kind != "if" and self.tau <= 1.0:
            raise BadArgument("--tau", f"neuron tau must be > 1 (got {self.tau})")
        number_in(self.v_threshold, "--v-threshold")
        if self.v_threshold <= self.v_reset:
            raise BadArgument("--v-threshold", f"threshold {self.v_threshold} must exceed the reset "
                                               f"{self.v_reset}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NeuronSpec:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def factory(self) -> tuple[type[neuron.BaseNode], dict[str, Any]]:
        """(neuron class, keyword arguments): the form spikingjelly's model zoo takes."""
        kwargs: dict[str, Any] = {
            "v_threshold": self.v_threshold,
            "v_reset": self.v_reset,
            "detach_reset": self.detach_reset,
            "surrogate_function": surrogate.ATan(alpha=self.surrogate_alpha),
            "step_mode": "m",
        }
        if self.kind == "plif":
            kwargs["init_tau"] = self.tau
        elif self.kind == "lif":
            kwargs["tau"] = self.tau
        return NEURON_KINDS[self.kind], kwargs

    def builder(self) -> Callable[[], nn.Module]:
        """A zero-argument function returning a fresh neuron layer (its own parameters)."""
        cls, kwargs = self.factory()

        def make() -> nn.Module:
            fresh = dict(kwargs, surrogate_function=surrogate.ATan(alpha=self.surrogate_alpha))
            return cls(**fresh)

        return make
