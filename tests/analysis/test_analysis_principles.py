"""The named principles of finding 1: each statistic on constructed edges where the principle
holds and where it does not, exact against a plain computation, and end to end in analyze."""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.analysis import AnalysisConfig, analyze_run
from fcgraph.analysis.principles import (
    PRINCIPLES,
    class_means,
    hub_share,
    in_degree_cv,
    like_to_like,
    rf_enrichment,
    strength_tail,
    unit_profiles,
)
from fcgraph.analysis.synthetic import make_planted_run
from fcgraph.contract import LayerInfo
from fcgraph.fc.pair import kernel_footprint
from fcgraph.spikes import SpikeMatrix

N_PRE, N_POST, C = 60, 50, 10


def profiles(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return unit_profiles(rng.random((N_PRE, C))), unit_profiles(rng.random((N_POST, C)))


def all_tested(n: int) -> np.ndarray:
    return np.ones(n, dtype=bool)


def test_like_to_like_both_ways_and_exact() -> None:
    u, v = profiles(0)
    corr = u @ v.T  # every pair's signal correlation, plainly
    pairs = np.argwhere(np.ones((N_PRE, N_POST), dtype=bool))
    order = np.argsort(corr.ravel())[::-1]
    similar = pairs[order[:150]]  # the 150 most similar pairs
    got = like_to_like(u, v, all_tested(N_PRE), all_tested(N_POST), similar[:, 0], similar[:, 1])
    assert got["signal_corr_tested"] == pytest.approx(corr.mean(), abs=1e-12)
    assert got["signal_corr_edges"] == pytest.approx(corr.ravel()[order[:150]].mean(), abs=1e-12)
    assert got["like_to_like"] > 0.5
    rng = np.random.default_rng(1)
    random_pairs = pairs[rng.choice(len(pairs), 150, replace=False)]
    chance = like_to_like(u, v, all_tested(N_PRE), all_tested(N_POST), random_pairs[:, 0],
                          random_pairs[:, 1])
    assert abs(chance["like_to_like"]) < 0.1


def test_class_means_and_flat_profiles() -> None:
    labels = np.array([0, 1, 1, 2])
    T = 2
    trains = np.zeros((2, T * labels.size), dtype=bool)
    trains[0, [0, 1, 2]] = True  # image 0: 2 spikes, image 1: 1 spike
    trains[1, :] = True  # 2 spikes in every image: the same in every class
    means = class_means(SpikeMatrix.from_bool(trains), labels, T)
    assert np.array_equal(means, [[2.0, 0.5, 0.0], [2.0, 2.0, 2.0]])
    u = unit_profiles(means)
    assert np.isfinite(u[0]).all() and np.isnan(u[1]).all()
    assert np.linalg.norm(u[0]) == pytest.approx(1.0)


def test_rf_enrichment_both_ways() -> None:
    pre, post = LayerInfo("a", 0, (2, 8, 8)), LayerInfo("b", 1, (3, 4, 4))
    footprint = kernel_footprint(pre, post)
    assert footprint.shape == (64, 16)
    tested_pre, tested_post = all_tested(pre.n_neurons), all_tested(post.n_neurons)
    all_pairs = np.argwhere(np.ones((pre.n_neurons, post.n_neurons), dtype=bool))
    inside = footprint[all_pairs[:, 0] % 64, all_pairs[:, 1] % 16]
    near = all_pairs[inside][::3]
    got = rf_enrichment(footprint, tested_pre, tested_post, near[:, 0], near[:, 1])
    assert got["rf_edge_share"] == 1.0
    assert got["rf_pair_share"] == pytest.approx(inside.mean())
    assert got["rf_enrichment"] > 1.5  # log2(1 / 0.14...)
    rng = np.random.default_rng(2)
    anywhere = all_pairs[rng.choice(len(all_pairs), 400, replace=False)]
    chance = rf_enrichment(footprint, tested_pre, tested_post, anywhere[:, 0], anywhere[:, 1])
    assert abs(chance["rf_enrichment"]) < 0.35
    dense = rf_enrichment(None, tested_pre, tested_post, near[:, 0], near[:, 1])
    assert dense["rf_enrichment"] is None


def test_strength_hub_and_degree_both_ways() -> None:
    assert strength_tail(np.ones(100)) == pytest.approx(0.10)
    heavy = np.random.default_rng(3).lognormal(0, 2, 1000)
    assert strength_tail(heavy) > 0.5
    rng = np.random.default_rng(4)
    spread = rng.integers(0, N_PRE, 600)
    assert hub_share(spread, all_tested(N_PRE)) < 0.2
    hubs = rng.choice([0, 1, 2, 3, 4, 5], 600)  # 6 of 60 neurons send every edge
    assert hub_share(hubs, all_tested(N_PRE)) == 1.0
    even = np.repeat(np.arange(N_POST), 4)
    assert in_degree_cv(even, all_tested(N_POST)) == 0.0
    skewed = np.concatenate([np.zeros(100, np.int64), np.arange(N_POST)])
    assert in_degree_cv(skewed, all_tested(N_POST)) > 2
    assert strength_tail(np.ones(5)) is None  # too few edges to say


def test_analyze_reports_the_principles_against_each_control(tmp_path) -> None:
    make_planted_run(tmp_path / "run", n_images=200, sizes=tuple(range(8, 32, 4)), control="planted",
                     seed=0)
    analysis = analyze_run(tmp_path / "run", AnalysisConfig(n_boot=10, n_shuffle=1),
                           figures=False)
    (layer,) = analysis["layers"]
    assert set(PRINCIPLES) <= set(layer["principles"])
    assert layer["principles"]["rf_enrichment"] is None  # a dense layer pair
    control = analysis["networks"]["permute:layer"]["layers"][0]["principles"]
    found = analysis["findings"][0]["details"]["principles"]
    hubs = found["hub_share"]
    assert hubs["trained"] == pytest.approx(layer["principles"]["hub_share"])
    assert hubs["contrasts"]["permute:layer"]["value"] == pytest.approx(
        layer["principles"]["hub_share"] - control["hub_share"])
    # one layer pair: no interval over layer pairs, so no principle is called held or not
    assert all(p["holds"] is None for p in found.values())


def _l2l_layer(post: str, l2l: list[float] | None, edges: int = 4000) -> dict:
    """A layer pair with a passing edge rate and the given like-to-like replicates."""
    g = 10
    return {"post_layer": post, "pre_layer": "p", "n_neurons": 100, "clean_edges": edges,
            "tested_pairs": 100_000, "false_edge_rate": 0.001,
            "group_sizes": {"n_with_group": 100, "n_neurons": 100},
            "blocks": {"n_groups": g, "n_sampled": 100, "edges": [edges] * (g + 1),
                       "tested": [100_000] * (g + 1), "like_to_like": l2l}}


def _spread(value: float, step: float = 0.01) -> list[float]:
    return [value, *(value + step * np.array([-2, -1, 0, 1, 2, 2, 1, 0, -1, -2]))]


class _Manifest:
    fc = {"parameters": {"z": 3.0}}


def test_like_to_like_counts_in_finding_1s_verdict():
    """Edge rates that pass against the control in both cases: the verdict is yes when the
    trained edges are like-to-like beyond the control's, no when the control's are as
    like-to-like (the same structure), and no when the trained edges are not like-to-like."""
    from fcgraph.analysis.findings import finding_1

    def analysis(trained: float, control: float | None) -> dict:
        return {"layers": [_l2l_layer(p, _spread(trained)) for p in "ab"],
                "networks": {"untrained": {"layers": [
                    _l2l_layer(p, None if control is None else _spread(control, 0.02), 400)
                    for p in "ab"]}}}

    yes = finding_1(analysis(0.5, 0.05), _Manifest())
    assert yes["supported"] is True and yes["details"]["like_to_like"]["holds"] is True
    assert yes["details"]["contrasts"]["untrained"]["exceeds"]  # the edge rate passes alone
    same = finding_1(analysis(0.5, 0.5), _Manifest())
    assert same["supported"] is False and "no more like-to-like than control untrained" \
        in same["reason"]
    assert same["details"]["contrasts"]["untrained"]["exceeds"]
    flat = finding_1(analysis(0.0, -0.3), _Manifest())
    assert flat["supported"] is False and "not like-to-like" in flat["reason"]
    # a control whose edges are too few to measure it does not decide; it is listed
    sparse = finding_1(analysis(0.5, None), _Manifest())
    assert sparse["supported"] is True
    assert sparse["details"]["like_to_like"]["unmeasured"] == ["untrained"]
