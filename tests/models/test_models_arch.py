"""Architectures: spiking layers found from the model, their shapes and feeders; neuron settings."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import neuron, surrogate

from fcgraph.errors import FcgraphError
from fcgraph.models import ModelConfig, NeuronSpec, build_model, neuron_modules, spiking_layers


def layers_of(arch: str, T: int = 2, **kwargs):
    model = build_model(ModelConfig(architecture=arch, T=T, **kwargs), seed=0)
    return model, spiking_layers(model.backbone, T, (3, 32, 32))


def test_sew_small_layers_shapes_and_feeders():
    _, layers = layers_of("sew-small")
    assert [la.n_neurons for la in layers] == [8192, 8192, 8192, 4096, 4096, 2048, 2048, 1024, 1024]
    assert [la.order for la in layers] == list(range(9))
    by_name = {la.name: la for la in layers}
    assert by_name["sn1"].shape == (8, 32, 32) and by_name["sn1"].feeds_from == ()
    assert by_name["layer2.0.sn1"].shape == (16, 16, 16)
    assert by_name["layer3.0.sn2"].shape == (32, 8, 8)
    assert by_name["fc1.sn"].shape == (1024,) and by_name["fc2.sn"].shape == (1024,)
    # inside a block: one feeder; after a residual sum, every spiking layer reaching it
    assert by_name["layer1.0.sn2"].feeds_from == ("layer1.0.sn1",)
    assert by_name["layer2.0.sn1"].feeds_from == ("sn1", "layer1.0.sn2")
    assert by_name["fc1.sn"].feeds_from == ("sn1", "layer1.0.sn2", "layer2.0.sn2", "layer3.0.sn2")
    assert by_name["fc2.sn"].feeds_from == ("fc1.sn",)


def test_layers_come_from_the_model_not_a_list():
    model, layers = layers_of("tiny")
    assert [la.name for la in layers] == list(neuron_modules(model.backbone))
    model.backbone.extra = neuron.IFNode(step_mode="m")  # registered but never called
    with pytest.raises(FcgraphError, match="never called"):
        spiking_layers(model.backbone, 2, (3, 32, 32))


@pytest.mark.parametrize("arch", ["sew-resnet18", "spiking-resnet18"])
def test_resnet18_cifar_stem(arch):
    model, layers = layers_of(arch, T=1)
    assert layers[0].name == "sn1" and layers[0].shape == (64, 32, 32)  # 3x3 stem, no max pool
    assert layers[-1].shape == (512, 4, 4)
    assert model.backbone.conv1.kernel_size == (3, 3)
    assert len({la.name for la in layers}) == len(layers) == (20 if arch == "sew-resnet18" else 17)
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_default_neuron_is_the_design_plif():
    model = build_model(ModelConfig(architecture="tiny"), seed=0)
    nodes = list(neuron_modules(model.backbone).values())
    assert all(isinstance(n, neuron.ParametricLIFNode) for n in nodes)
    node = nodes[0]
    assert node.v_threshold == 1.0 and node.v_reset == 0.0 and node.detach_reset
    assert isinstance(node.surrogate_function, surrogate.ATan) and node.surrogate_function.alpha == 2.0
    assert float(1.0 / node.w.detach().sigmoid()) == pytest.approx(2.0)  # initial tau
    assert node.step_mode == "m"
    assert model.T == 8


@pytest.mark.parametrize(("kind", "cls"), [("lif", neuron.LIFNode), ("if", neuron.IFNode)])
def test_other_neurons(kind, cls):
    model = build_model(ModelConfig(architecture="tiny", T=3, neuron=NeuronSpec(kind=kind)), seed=0)
    assert all(type(n) is cls for n in neuron_modules(model.backbone).values())
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_direct_encoding_and_state_reset():
    model = build_model(ModelConfig(architecture="tiny", T=4), seed=0)
    images = torch.rand(3, 3, 32, 32)
    x = model.encode(images)
    assert x.shape == (4, 3, 3, 32, 32) and torch.equal(x[0], x[3])
    model.train()  # batch statistics: the network is active
    with torch.no_grad():
        first, second = model(images), model(images)
    assert torch.equal(first, second)  # no state carried over between batches


def test_bad_names_are_one_line_errors():
    with pytest.raises(FcgraphError, match="unknown model 'resnet9'"):
        ModelConfig(architecture="resnet9")
    with pytest.raises(FcgraphError, match="unknown neuron"):
        NeuronSpec(kind="izhikevich")
    with pytest.raises(FcgraphError, match="T must be at least 1"):
        ModelConfig(T=0)
