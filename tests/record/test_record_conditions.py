"""Each condition changes the images or the weights as documented, and nothing else."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fcgraph.datasets import load_dataset
from fcgraph.errors import FcgraphError
from fcgraph.models import ModelConfig, TrainConfig, build_model, load_checkpoint, train
from fcgraph.record.conditions import (
    add_noise,
    attack,
    batchnorm_layers,
    parse_all,
    permuted,
    recalibrate_batchnorm,
    surrogate_gradients,
    weight_parameters,
)
from fcgraph.record.conditions import parse as parse_condition


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ck")
    train(TrainConfig(architecture="tiny", T=4, lr=0.02, batch_size=16, epochs=1, train_limit=256,
                      test_limit=16), folder)
    return load_checkpoint(folder)[0]


@pytest.fixture(scope="module")
def batch():
    images, labels = next(load_dataset("digits", "test").batches(24))
    return images, labels


def loss_of(model, images, labels) -> float:
    with torch.no_grad():
        return float(nn.functional.cross_entropy(model(images), labels))


def test_parse_names():
    assert parse_condition("pgd:0.03:10").steps == 10
    assert parse_condition("uniform:0.1").level == 0.1
    assert parse_condition("permute:unit").scheme == "unit"
    for bad, why in [("noise:1", "unknown kind"), ("uniform", "expected uniform:LEVEL"),
                     ("uniform:x", "not a number"), ("uniform:2", r"in \(0, 1\]"),
                     ("pgd:0.1", "pgd:E:STEPS"), ("pgd:0.1:0", "STEPS"), ("permute", "scheme"),
                     ("permute:rows", "scheme"), ("clean:1", "takes no level"), ("a b", "bad condition"),
                     ("uniform:0.001:r1", "r2, r3"), ("uniform:0.001:r02", "r2, r3"),
                     ("gaussian:0.01:seed", "r2, r3"), ("fgsm:0.1:r2", "expected fgsm:LEVEL"),
                     ("uniform:0.001:r2:r3", "expected uniform:LEVEL"),
                     ("epoch", "expected epoch:E"), ("epoch:0", "expected epoch:E"),
                     ("epoch:1.5", "expected epoch:E"), ("epoch:01", "expected epoch:E"),
                     ("epoch:-1", "bad condition"), ("epoch:1:2", "expected epoch:E")]:
        with pytest.raises(FcgraphError, match=why):
            parse_condition(bad)
    with pytest.raises(FcgraphError, match="given twice"):
        parse_all(["clean", "clean"])
    second = parse_condition("uniform:0.001:r2")
    assert (second.kind, second.level, second.draw) == ("uniform", 0.001, 2)
    assert parse_condition("uniform:0.001").draw == 1 and second.describe()["draw"] == 2
    checkpoint = parse_condition("epoch:12")
    assert (checkpoint.kind, checkpoint.epoch, checkpoint.changes_weights) == ("epoch", 12, True)
    assert checkpoint.describe()["epoch"] == 12


def test_noise_draws_are_other_draws_of_the_same_noise(batch):
    """``uniform:A:rK`` is uniform noise of the same amplitude, drawn anew; the findings count
    every draw of a negligible noise as a reliability floor."""
    from fcgraph.analysis.findings import condition_role

    images, _ = batch
    first = add_noise(parse_condition("uniform:0.2"), images, range(24), seed=0)
    again = add_noise(parse_condition("uniform:0.2:r2"), images, range(24), seed=0)
    assert not torch.equal(first, again)
    inside = (images > 0.2) & (images < 0.8)
    for noisy in (first, again):
        assert (noisy - images)[inside].abs().max() <= 0.2 + 1e-6
    assert torch.equal(again, add_noise(parse_condition("uniform:0.2:r2"), images, range(24), 0))
    assert [condition_role(c) for c in ("uniform:0.001:r2", "gaussian:0.005:r3",
                                        "uniform:0.1:r2")] == ["floor", "floor", "perturbation"]


def test_noise_in_pixel_space_per_image(batch):
    images, _ = batch
    cond = parse_condition("uniform:0.2")
    noisy = add_noise(cond, images, range(24), seed=0)
    assert noisy.min() >= 0 and noisy.max() <= 1 and not torch.equal(noisy, images)
    inside = (images > 0.2) & (images < 0.8)  # where clipping cannot act
    delta = (noisy - images)[inside]
    assert delta.abs().max() <= 0.2 + 1e-6 and delta.abs().max() > 0.19
    # image k's noise depends on (seed, condition, k) only: not on batching, changes with the seed
    assert torch.equal(add_noise(cond, images[5:9], range(5, 9), seed=0), noisy[5:9])
    assert not torch.equal(add_noise(cond, images, range(24), seed=1), noisy)
    gauss = add_noise(parse_condition("gaussian:0.05"), images, range(24), seed=0)
    assert float((gauss - images)[inside].std()) == pytest.approx(0.05, rel=0.1)


def test_surrogate_mode_keeps_the_forward(model, batch):
    images, _ = batch
    with torch.no_grad():
        plain = model(images)
        with surrogate_gradients(model):
            same = model(images)
    assert torch.equal(plain, same) and not model.training


def test_fgsm_and_pgd_raise_the_loss_within_epsilon(model, batch):
    images, labels = batch
    before = loss_of(model, images, labels)
    for name in ("fgsm:0.05", "pgd:0.05:3"):
        adv = attack(parse_condition(name), model, images, labels, range(24), seed=0)
        assert (adv - images).abs().max() <= 0.05 + 1e-6
        assert adv.min() >= 0 and adv.max() <= 1
        assert loss_of(model, adv, labels) > before
    assert not any(p.grad is not None for p in model.parameters())


def test_permutation_keeps_each_layers_weights_and_nothing_else(model):
    original = {k: v.clone() for k, v in model.state_dict().items()}
    weight_names = set(weight_parameters(model))
    assert "backbone.conv1.weight" in weight_names and "backbone.fc.weight" in weight_names
    for scheme in ("layer", "unit"):
        shuffled = permuted(model, parse_condition(f"permute:{scheme}"), seed=0)
        state = shuffled.state_dict()
        for key, value in original.items():
            if key in weight_names:
                assert not torch.equal(state[key], value), key
                assert torch.equal(state[key].flatten().sort().values, value.flatten().sort().values)
                if scheme == "unit":
                    rows = state[key].reshape(len(value), -1).sort(dim=1).values
                    assert torch.equal(rows, value.reshape(len(value), -1).sort(dim=1).values)
            else:
                assert torch.equal(state[key], value), key  # biases, BatchNorm, neuron parameters
    assert all(torch.equal(v, original[k]) for k, v in model.state_dict().items())  # a copy


def test_untrained_network_needs_batchnorm_recalibration(batch):
    images, _ = batch
    fresh = build_model(ModelConfig(architecture="tiny", T=4), seed=0).eval()
    rates = []

    def count(module, args, out):
        rates.append(float(out.mean()))

    from fcgraph.models import neuron_modules

    for node in neuron_modules(fresh.backbone).values():
        node.register_forward_hook(count)
    with torch.no_grad():
        fresh(images)
    assert max(rates) == 0.0  # silent in eval mode
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    recalibrate_batchnorm(fresh, [images[:12], images[12:]])
    changed = {k for k, v in fresh.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.rsplit(".", 1)[1] in ("running_mean", "running_var", "num_batches_tracked")
                           for k in changed)
    assert all(bn.momentum == 0.1 and not bn.training for bn in batchnorm_layers(fresh))
    rates.clear()
    with torch.no_grad():
        fresh(images)
    assert rates[0] > 0.01  # the conv layers fire after recalibration
