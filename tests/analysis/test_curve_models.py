"""The shape of an input-output curve by cross-validated held-out likelihood
(:mod:`fcgraph.analysis.curve_models`): planted threshold-linear curves are called ReLU-like,
planted saturating (sigmoid) and linear curves are not, and a post neuron shuffled across images
(no relation to its group left) is called ReLU-like in at most 5 % of curves."""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.analysis.curve_models import (
    MODELS,
    _bases,
    _fit,
    compare_models,
    image_cells,
    stratified_folds,
)
from fcgraph.analysis.io_curve import aggregate_cofiring
from fcgraph.analysis.synthetic import planted_spikes

SIZES = np.arange(10, 42, 4)
T = 8


def planted(response: str, n_images: int = 600, seed: int = 1) -> dict:
    """Eight strong planted curves of shape ``response`` (post firing spans ~0.05 to ~0.6)."""
    return planted_spikes(n_images=n_images, sizes=tuple(SIZES), p_event=0.4, p_event_other=0.1,
                          gains=(0.75 if response == "linear" else 1.2) / SIZES,
                          response=response, seed=seed)


def calls(truth: dict, shuffle: np.random.Generator | None = None, seed: int = 0) -> list[dict]:
    out = []
    for j, members in enumerate(truth["members"]):
        k = aggregate_cofiring(truth["pre"], members)
        y = truth["post"][j]
        if shuffle is not None:  # the post neuron's images in another order
            y = y.reshape(-1, T)[shuffle.permutation(y.size // T)].ravel()
        out.append(compare_models(k, y, T, truth["labels"], seed=seed))
    return out


def test_image_cells_and_folds():
    k = np.array([0, 1, 1, 2, 0, 0, 2, 2])
    y = np.array([0, 1, 0, 1, 0, 0, 1, 1], dtype=bool)
    ks, n, s = image_cells(k, y, 4)
    assert ks.tolist() == [0, 1, 2]
    assert n.tolist() == [[1, 2, 1], [2, 0, 2]] and s.tolist() == [[0, 1, 1], [0, 0, 2]]
    labels = np.repeat(np.arange(3), 10)
    fold = stratified_folds(labels, 5, seed=0)
    for c in range(3):  # every class in every fold, equally
        assert np.bincount(fold[labels == c], minlength=5).tolist() == [2] * 5
    assert np.array_equal(fold, stratified_folds(labels, 5, seed=0))


def test_fit_is_the_maximum_likelihood_of_each_basis():
    """(b, g) of each basis row against a brute-force grid maximum of the Bernoulli likelihood."""
    rng = np.random.default_rng(0)
    x = np.arange(8.0)
    n = rng.integers(50, 200, 8).astype(float)
    s = rng.binomial(n.astype(int), 0.05 + 0.04 * np.maximum(0, x - 3)).astype(float)
    H, model = _bases(x)
    b, g, ll = _fit(H, n[None], s[None])
    for row in (int(np.flatnonzero(model == 2)[0]), 5):
        bb, gg = np.meshgrid(np.linspace(-0.2, 0.4, 301), np.linspace(-0.1, 0.2, 301))
        mu = np.clip(bb[..., None] + gg[..., None] * H[row], 1e-3, 1 - 1e-3)
        grid = (s * np.log2(mu) + (n - s) * np.log2(1 - mu)).sum(-1)
        assert ll[0, row] >= grid.max() - 1e-6


def test_planted_threshold_linear_curves_are_relu_like():
    results = calls(planted("threshold-linear"))
    assert sum(r["relu_like"] for r in results) >= 7
    assert all(r["best"] in ("threshold_linear", "softplus") for r in results)
    assert all(set(r["bits_per_image"]) == set(MODELS) for r in results)


@pytest.mark.parametrize("response", ["sigmoid", "linear"])
def test_saturating_and_linear_curves_are_not_relu_like(response):
    results = calls(planted(response))
    assert sum(r["relu_like"] for r in results) <= 1, [r["best"] for r in results]
    if response == "sigmoid":
        assert sum(r["best"] == "sigmoid" for r in results) >= 5


def test_post_neuron_shuffled_across_images_is_almost_never_relu_like():
    """The review's null: the same k, the post neuron's images shuffled. The F test called 0-11 %
    of these threshold-linear; the held-out criterion must call at most 5 %."""
    truth = planted("threshold-linear", n_images=300)
    rng = np.random.default_rng(7)
    results = [r for seed in range(6) for r in calls(truth, shuffle=rng, seed=seed)]
    assert len(results) == 48
    assert sum(r["relu_like"] for r in results) <= 0.05 * len(results)


def test_too_few_k_values_are_not_compared():
    k = np.tile([0, 1], 40)
    y = np.zeros(80, dtype=bool)
    out = compare_models(k, y, 8, np.arange(10) % 2)
    assert out["best"] is None and out["relu_like"] is False


def test_jackknife_replicates_refit_each_replicate_and_leave_the_full_result_alone():
    """With image groups, the comparison on all images is unchanged, a replicate that deletes
    an empty group is the full comparison again, and planted threshold-linear curves stay
    ReLU-like on (almost) every replicate while shuffled ones almost never are."""
    truth = planted("threshold-linear")
    M = truth["labels"].size
    groups = np.arange(M) % 10
    groups[groups == 3] = 4  # group 3 holds no image: its replicate is all the images
    plain, with_groups = calls(truth), []
    for j, members in enumerate(truth["members"]):
        k = aggregate_cofiring(truth["pre"], members)
        with_groups.append(compare_models(k, truth["post"][j], T, truth["labels"], groups=groups))
    for a, b in zip(plain, with_groups, strict=True):
        assert {key: v for key, v in b.items() if key != "replicates"} == a
        assert len(b["replicates"]) == 10 and b["replicates"][3] == a["relu_like"]
    assert sum(sum(b["replicates"]) >= 9 for b in with_groups) >= 7
    rng = np.random.default_rng(5)
    shuffled = []
    for j, members in enumerate(truth["members"]):
        y = truth["post"][j].reshape(-1, T)[rng.permutation(M)].ravel()
        shuffled.append(compare_models(aggregate_cofiring(truth["pre"], members), y, T,
                                       truth["labels"], groups=groups)["replicates"])
    assert np.mean(shuffled) <= 0.1


def test_replicate_gains_equal_the_fit_on_the_kept_images_bins():
    """The gain of each replicate from per-image cells equals the threshold-linear fit of the
    response curve of the replicate's bins, computed directly."""
    from fcgraph.analysis.curve_models import replicate_masks
    from fcgraph.analysis.io_curve import fit_curve, response_curve
    from fcgraph.analysis.io_heldout import _gains

    truth = planted("threshold-linear", n_images=200)
    groups = np.arange(200) % 5
    keep = replicate_masks(200, groups)
    for j in (0, 5):
        k = aggregate_cofiring(truth["pre"], truth["members"][j])
        y = truth["post"][j]
        got = _gains(image_cells(k, y, T), keep)
        for s, images in enumerate(keep):
            bins = np.repeat(images, T)
            assert np.isclose(got[s], fit_curve(*response_curve(k[bins], y[bins])).gain)
