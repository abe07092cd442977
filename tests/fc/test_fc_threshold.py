"""The control threshold: exact tail collection, and the promised false-edge rate on skewed nulls."""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.errors import FcgraphError
from fcgraph.fc import calibrate, control_threshold, normal_upper_tail, significant_edges
from fcgraph.fc.calibration import control_order, derangement
from fcgraph.fc.threshold import (
    CONTROL_PAIRS,
    MAX_DRAWS,
    TailCollector,
    count_tested,
    n_draws,
    threshold_from_tail,
)

T = 8
NOMINAL = float(normal_upper_tail(3.0))


def bursty(rng: np.random.Generator, n: int, M: int = 80, p_image: float = 0.2,
           p_bin: float = 0.4) -> np.ndarray:
    """Boolean (n, M T) trains silent in most images and bursting (``p_bin`` per bin) in a few
    (each neuron's share of images drawn around ``p_image``): counts with a skewed null."""
    active = rng.random((n, M, 1)) < rng.uniform(0.5 * p_image, 1.5 * p_image, (n, 1, 1))
    return (active & (rng.random((n, M, T)) < p_bin)).reshape(n, M * T)


def test_tail_collector_keeps_the_largest_exactly() -> None:
    rng = np.random.default_rng(0)
    stream = [rng.standard_normal(n) for n in rng.integers(0, 5000, 40)]
    tail = TailCollector(floor=1.0, capacity=50)
    for chunk in stream:
        tail.add(chunk)
    everything = np.sort(np.concatenate(stream))[::-1]
    got = tail.largest()
    assert np.array_equal(got[:51], everything[:51])
    assert got.size <= 2 * 51 and (got >= 1.0).all()
    small = TailCollector(floor=2.0, capacity=10_000)  # capacity never reached: all values >= 2
    for chunk in stream:
        small.add(chunk)
    assert np.array_equal(small.largest(), everything[everything >= 2.0])


def test_threshold_from_tail_on_constructed_cases() -> None:
    values = np.array([9.0, 7.0, 5.0, 4.0, 3.5, 3.0])
    assert threshold_from_tail(values, tested=1000, rate=0.0025, z_min=3.0) == (6.0, 2)
    thr, n = threshold_from_tail(values, tested=100, rate=0.001, z_min=3.0)  # k = 0
    assert thr == np.nextafter(9.0, np.inf) and n == 0
    assert threshold_from_tail(values, tested=10_000, rate=0.001, z_min=3.0) == (3.0, 6)
    ties = np.array([8.0, 5.0, 5.0, 5.0, 4.0])
    thr, n = threshold_from_tail(ties, tested=1000, rate=0.002, z_min=3.0)  # k = 2 inside a tie
    assert thr == np.nextafter(5.0, np.inf) and n == 1
    assert threshold_from_tail(np.empty(0), tested=0, rate=0.00135, z_min=3.0) == (3.0, 0)


def test_control_draws_are_independent_derangements() -> None:
    legacy = derangement(80, np.random.default_rng([0, 0x6E6567]))
    assert np.array_equal(control_order(80, 0), legacy)  # draw 0: calibrate's order as before
    one = control_order(80, 0, draw=1)
    assert sorted(one.tolist()) == list(range(80)) and not (one == np.arange(80)).any()
    assert not np.array_equal(one, legacy)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_control_rule_keeps_the_promise_where_the_normal_rule_breaks_it(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pre, post = bursty(rng, 300), bursty(rng, 300)  # independent: every edge is false
    rule = {"T": T, "min_spikes": 5, "null": "exact"}
    draws = None if seed == 0 else 4  # None: fc's default, 16 draws here (at most 2e7 pairs)
    thr = control_threshold(pre, post, z=3.0, draws=draws, **rule)  # control draws 1, 2, ...
    assert thr["draws"] == (draws or MAX_DRAWS)
    assert thr["tested"] == thr["draws"] * count_tested(pre, post, min_spikes=5)
    assert thr["z"] > 3.5 and thr["control_rate"] <= NOMINAL and thr["nominal_rate"] == NOMINAL
    assert thr["normal_rate"] > 3 * NOMINAL  # the skewed null, seen on the threshold's draw
    # measured on an independent draw (0): the normal rule breaks the promise, the control keeps it
    normal = calibrate(pre, post, seed=0, z=3.0, **rule)
    control = calibrate(pre, post, seed=0, z=thr["z"], nominal_rate=NOMINAL, **rule)
    assert normal["draw"] == control["draw"] == 0 and control["tested"] > 80_000
    assert normal["ratio"] > 3.0
    assert control["ratio"] <= 1.5
    # the real (independent) trains themselves: the same promise
    _, report = significant_edges(pre, post, z=thr["z"], **rule)
    assert report["significant"] / report["tested"] <= 1.5 * NOMINAL


def test_planted_edges_are_still_found_at_the_control_threshold() -> None:
    rng = np.random.default_rng(5)
    pre, post = bursty(rng, 200), bursty(rng, 200)
    drivers = rng.choice(200, 20, replace=False)
    post[:20] |= pre[drivers] & (rng.random((20, pre.shape[1])) < 0.5)  # half the driver's spikes
    rule = {"T": T, "min_spikes": 5}
    thr = control_threshold(pre, post, z=3.0, draws=4, **rule)
    assert thr["z"] > 3.5
    edges, _ = significant_edges(pre, post, z=thr["z"], **rule)
    found = set(zip(edges.pre_idx.tolist(), edges.post_idx.tolist(), strict=True))
    assert {(int(d), j) for j, d in enumerate(drivers)} <= found
    assert len(found) <= 20 + 3 * NOMINAL * 200 * 200


def test_control_threshold_is_never_below_the_nominal_z() -> None:
    rng = np.random.default_rng(3)
    pre = rng.random((40, T * 200)) < 0.1  # Poisson-like trains, many images: a normal null
    post = rng.random((40, T * 200)) < 0.1
    thr = control_threshold(pre, post, T=T, z=3.0, draws=2)
    assert thr["z"] >= 3.0 and thr["false_edges"] <= NOMINAL * thr["tested"]
    high = control_threshold(pre, post, T=T, z=4.5, draws=2)
    assert high["z"] >= 4.5 and high["nominal_rate"] == pytest.approx(3.4e-6, rel=1e-2)


@pytest.mark.parametrize("bad", [{"fdr": 0.05}, {"top_k": 3}])
def test_control_threshold_refuses_other_rules(bad: dict) -> None:
    x = np.zeros((3, T * 4), dtype=bool)
    with pytest.raises(FcgraphError, match="z rule"):
        control_threshold(x, x, T=T, **bad)


def test_draws_and_tested_pairs() -> None:
    assert n_draws(10 * CONTROL_PAIRS) == 1 and n_draws(CONTROL_PAIRS // 2) == 2
    assert n_draws(CONTROL_PAIRS // 2 - 1) == 3
    assert n_draws(1000) == MAX_DRAWS and n_draws(0) == MAX_DRAWS
    rng = np.random.default_rng(4)
    pre, post = bursty(rng, 30, M=20), bursty(rng, 25, M=20)
    cand = rng.random((30, 25)) < 0.3
    for kw in ({}, {"candidates": cand}, {"candidates": lambda j0, j1: cand[:, j0:j1]}):
        _, report = significant_edges(pre, post, T=T, min_spikes=5, tile=7, **kw)
        assert count_tested(pre, post, min_spikes=5, tile=7, **kw) == report["tested"]


def test_pooled_draws_count_every_draw() -> None:
    rng = np.random.default_rng(6)
    pre, post = bursty(rng, 60), bursty(rng, 60)
    one = control_threshold(pre, post, T=T, min_spikes=5, draws=1)
    calls: list[tuple[int, int]] = []
    three = control_threshold(pre, post, T=T, min_spikes=5, draws=3, tile=16,
                              progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (180, 180) and {t for _, t in calls} == {180}  # one count, 3 x 60 posts
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert three["tested"] == 3 * one["tested"] and three["draws"] == 3
    first = control_threshold(pre, post, T=T, min_spikes=5, draws=1, first_draw=1)
    assert first == one
    assert three["false_edges"] <= NOMINAL * three["tested"]
