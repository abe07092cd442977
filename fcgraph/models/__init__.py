"""Spiking ResNets (multi-step, direct encoding), their training and checkpoint folders.

Architectures (all for 32x32 images): ``sew-small`` (the prototype of docs/design.md), ``sew-resnet18``
and ``spiking-resnet18`` (spikingjelly's zoo with a CIFAR stem), and ``tiny`` (for tests).
Neurons: ``plif`` (default), ``lif``, ``if`` (:class:`NeuronSpec`).
"""

from fcgraph.models.checkpoint import CheckpointConfig, load_checkpoint, read_config, state_dict_hash
from fcgraph.models.classifier import SpikingClassifier
from fcgraph.models.neurons import NEURON_KINDS, NeuronSpec
from fcgraph.models.registry import ARCHITECTURES, ModelConfig, build_model
from fcgraph.models.structure import neuron_modules, spiking_layers
from fcgraph.models.train import TrainConfig, evaluate, train

__all__ = [
    "ARCHITECTURES", "NEURON_KINDS", "CheckpointConfig", "ModelConfig", "NeuronSpec",
    "SpikingClassifier", "TrainConfig", "build_model", "evaluate", "load_checkpoint",
    "neuron_modules", "read_config", "spiking_layers", "state_dict_hash", "train",
]
