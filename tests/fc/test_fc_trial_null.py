"""The trial-shuffle null: exact against a plain reference, and ground truth both ways.

Synthetic recordings of R trials of the same N images (trial-major), each neuron firing with
an image-dependent probability, independently from trial to trial. Pairs that only share their
image preferences (shared stimulus drive) are edges under the whole-image null and must not be
under the trial null; pairs coupled within a trial must be edges under the trial null.
"""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.fc import control_threshold, significant_edges
from fcgraph.fc.calibration import control_order, trial_rotation
from fcgraph.fc.shifts import trial_shifts
from tests.helpers.fc_reference import brute_shift_counts

T, N, R = 4, 60, 8
L = T * N * R
PLANTED = 8  # pre j and post j, j < PLANTED: the planted pairs


def preferences(rng: np.random.Generator, n: int, share: float = 0.2) -> np.ndarray:
    """Boolean (n, N): the images each neuron responds to."""
    return rng.random((n, N)) < share


def trains(rng: np.random.Generator, prefers: np.ndarray, base: float = 0.02,
           drive: float = 0.5) -> np.ndarray:
    """Boolean (n, L): Bernoulli spikes, probability base + drive in preferred images, drawn
    independently in every trial and step (trial-major bins: (r N + i) T + t)."""
    n = prefers.shape[0]
    p = base + drive * prefers[:, None, :, None]  # (n, 1 trial axis, N, 1 step axis)
    return (rng.random((n, R, N, T)) < p).reshape(n, L)


def stimulus_driven(seed: int = 0, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Pre and post trains where pair (j, j), j < PLANTED, shares its image preferences and
    nothing else: they fire together because of the images, not within a trial."""
    rng = np.random.default_rng(seed)
    pre_pref, post_pref = preferences(rng, n), preferences(rng, n)
    post_pref[:PLANTED] = pre_pref[:PLANTED]
    return trains(rng, pre_pref), trains(rng, post_pref)


def coupled(seed: int = 1, n: int = 40, coupling: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Pre and post trains with independent image preferences, where post j, j < PLANTED, also
    fires in the same bin as pre j with probability ``coupling`` (within the trial)."""
    rng = np.random.default_rng(seed)
    pre = trains(rng, preferences(rng, n))
    post = trains(rng, preferences(rng, n))
    post[:PLANTED] |= pre[:PLANTED] & (rng.random((PLANTED, L)) < coupling)
    return pre, post


def edge_set(edges) -> set[tuple[int, int]]:
    return set(zip(edges["pre_idx"].tolist(), edges["post_idx"].tolist(), strict=True))


def planted() -> set[tuple[int, int]]:
    return {(j, j) for j in range(PLANTED)}


def controlled_edges(pre: np.ndarray, post: np.ndarray, **rule) -> set[tuple[int, int]]:
    """Edges at the threshold set from the rule's own control (what fc does by default)."""
    threshold = control_threshold(pre, post, T=T, z=3.0, seed=0, draws=4, measure="cofire",
                                  **rule)
    edges, _ = significant_edges(pre, post, T=T, z=threshold["z"], measure="cofire", **rule)
    return edge_set(edges)


def test_trial_shifts_are_whole_trials() -> None:
    assert trial_shifts(L, R).tolist() == [k * N * T for k in range(1, R)]
    with pytest.raises(BadArgument, match="3 or more trials"):
        trial_shifts(L, 1)
    with pytest.raises(BadArgument, match="3 or more trials"):  # one other trial: no SD
        trial_shifts(L, 2)
    with pytest.raises(FcgraphError, match="whole number of 7 trials"):
        trial_shifts(L, 7)


def test_trial_null_moments_equal_a_plain_reference() -> None:
    pre, post = coupled(n=12)
    n_pre, n_post = pre.shape[0], post.shape[0]
    dense = {key: np.zeros((n_pre, n_post)) for key in ("cofire", "null_mean", "null_sd", "z")}
    significant_edges(pre, post, T=T, null="trial", trials=R, measure="cofire", min_spikes=0,
                      dense=dense)
    shifted = brute_shift_counts(pre, post, [k * N * T for k in range(1, R)])  # (R-1, pre, post)
    observed = pre.astype(np.int64) @ post.astype(np.int64).T
    assert np.array_equal(dense["cofire"], observed)
    assert np.allclose(dense["null_mean"], shifted.mean(axis=0), rtol=0, atol=1e-9)
    assert np.allclose(dense["null_sd"], shifted.std(axis=0, ddof=1), rtol=0, atol=1e-9)


def test_trial_rotation_keeps_the_image_and_changes_the_trial() -> None:
    order = trial_rotation(N * R, R, np.random.default_rng(5))
    k = np.arange(N * R)
    assert sorted(order.tolist()) == k.tolist()  # a permutation of the presentations
    assert np.array_equal(order % N, k % N)  # the same image
    assert not (order // N == k // N).any()  # in another trial
    trial_control = control_order(N * R, seed=0, draw=1, trials=R)
    assert np.array_equal(trial_control % N, k % N)
    assert not np.array_equal(trial_control, control_order(N * R, seed=0, draw=2, trials=R))


def test_shared_stimulus_drive_is_an_edge_only_under_the_image_null() -> None:
    pre, post = stimulus_driven()
    by_image = controlled_edges(pre, post, null="exact")
    by_trial = controlled_edges(pre, post, null="trial", trials=R)
    assert planted() <= by_image  # the images explain these pairs' cofiring ...
    assert not planted() & by_trial  # ... so the trial null finds nothing there
    assert len(by_trial) <= 5  # of 1,600 pairs: about the nominal rate (0.00135 x 1,600 = 2.2)


def test_coupling_within_a_trial_is_an_edge_under_the_trial_null() -> None:
    pre, post = coupled()
    by_trial = controlled_edges(pre, post, null="trial", trials=R)
    assert planted() <= by_trial
    assert len(by_trial - planted()) <= 5


def test_identical_trials_give_no_spread_and_no_edge() -> None:
    """A deterministic network shows every trial the same: nothing beyond the image."""
    pre, post = stimulus_driven()
    one_trial = np.s_[:, : N * T]
    pre = np.tile(pre[one_trial], R)
    post = np.tile(post[one_trial], R)
    edges, report = significant_edges(pre, post, T=T, null="trial", trials=R, measure="cofire")
    assert report["tested"] > 0 and report["zero_spread"] == report["tested"]
    assert len(edges) == 0


def test_trial_null_needs_trials() -> None:
    pre, post = coupled(n=12)
    with pytest.raises(BadArgument, match="fcgraph record --trials"):
        significant_edges(pre, post, T=T, null="trial")
