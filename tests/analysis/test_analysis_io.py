"""Input-output curves: exact threshold-linear least squares, planted ensembles recovered within
their bootstrap CIs, gain rising with planted size, linear data not called threshold-linear."""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.analysis.io_curve import (
    _relu_profile,
    aggregate_cofiring,
    fit_curve,
    fit_io,
    gain_vs_size,
    response_curve,
)
from fcgraph.analysis.synthetic import planted_spikes


def test_response_curve_counts_bins_per_k():
    k = np.array([0, 0, 1, 3, 3, 3])
    y = np.array([0, 1, 1, 1, 0, 1], dtype=bool)
    ks, n, p = response_curve(k, y)
    assert ks.tolist() == [0, 1, 3] and n.tolist() == [2, 1, 3]
    assert np.allclose(p, [0.5, 1.0, 2 / 3])


def test_aggregate_cofiring_counts_members():
    pre = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1]], dtype=bool)
    assert aggregate_cofiring(pre, np.array([0, 2])).tolist() == [1, 0, 2]
    assert aggregate_cofiring(pre, np.array([], dtype=np.int64)).tolist() == [0, 0, 0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relu_profile_is_the_exact_least_squares_optimum(seed):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.choice(25, 10, replace=False)).astype(float)
    w = rng.integers(1, 50, 10).astype(float)
    p = 0.1 + 0.04 * np.maximum(0, x - 6.3) + rng.normal(0, 0.03, 10)
    b, g, theta, sse = _relu_profile(x, p, w)
    best = np.inf
    for th in np.linspace(x[0], x[-1], 5001):  # brute force over theta
        X = np.c_[np.ones_like(x), np.maximum(0, x - th)] * np.sqrt(w)[:, None]
        beta, *_ = np.linalg.lstsq(X, p * np.sqrt(w), rcond=None)
        best = min(best, float(((X @ beta - p * np.sqrt(w)) ** 2).sum()))
    assert sse <= best + 1e-9
    assert np.isclose(((b + g * np.maximum(0, x - theta) - p) ** 2 * w).sum(), sse)


def test_planted_gains_and_thresholds_are_recovered_within_their_cis():
    truth = planted_spikes(n_images=1500, sizes=(10, 20, 30), gains=(0.02, 0.03, 0.04),
                           thetas=(3.0, 6.5, 9.0), p_event=0.3, seed=4)
    rng = np.random.default_rng(0)
    for j, members in enumerate(truth["members"]):
        k = aggregate_cofiring(truth["pre"], members)
        fit, curve = fit_io(k, truth["post"][j], truth["T"], n_boot=300, rng=rng)
        assert fit.gain_lo <= truth["gains"][j] <= fit.gain_hi, (j, fit)
        assert fit.theta_lo <= truth["thetas"][j] <= fit.theta_hi, (j, fit)
        assert fit.gain_lo > 0 and fit.gain_hi - fit.gain_lo < 1.5 * truth["gains"][j]
        assert fit.f_p < 0.01 and fit.r2 > fit.r2_linear  # threshold-linear beats linear
        assert sum(curve["n"]) == truth["pre"].shape[1]


def test_gain_rises_with_planted_ensemble_size():
    sizes = np.arange(6, 30, 2)
    truth = planted_spikes(n_images=1200, sizes=sizes, n_classes=4, gains=0.005 + 0.002 * sizes,
                           seed=5)
    gains = [fit_io(aggregate_cofiring(truth["pre"], m), truth["post"][j], 8, n_boot=0)[0].gain
             for j, m in enumerate(truth["members"])]
    stats = gain_vs_size(sizes, np.array(gains))
    assert stats["n"] == sizes.size and stats["rho"] > 0.5 and stats["rho_lo"] > 0
    assert stats["slope_lo"] > 0 and stats["slope_lo"] <= 0.002 <= stats["slope_hi"]


def test_linear_response_is_not_called_threshold_linear():
    rng = np.random.default_rng(3)
    k = rng.integers(0, 15, 8000)
    y = rng.random(8000) < 0.05 + 0.03 * k
    fit = fit_curve(*response_curve(k, y))
    assert fit.f_p > 0.01
    assert abs(fit.linear_slope - 0.03) < 0.005 and fit.r2_linear > 0.95


def test_gain_vs_size_without_spread_is_empty():
    out = gain_vs_size(np.array([5, 5, 5, 5]), np.array([0.1, 0.2, 0.3, 0.4]))
    assert out["rho"] is None and out["n"] == 4


def test_gain_law_sign_is_right_on_planted_ensembles_of_known_size():
    """Per-member gains planted as size^+0.8 and size^-0.8 (30 ensembles of 6-42 members,
    1,000 images), fitted with the true groups: the exponent never comes out with the wrong sign,
    and in most seeds its CI excludes 0 on the right side."""
    from fcgraph.analysis.io_curve import aggregate_cofiring, fit_io, gain_law
    from fcgraph.analysis.synthetic import planted_spikes

    sizes = np.repeat(np.arange(6, 46, 4), 3)
    for beta in (0.8, -0.8):
        directions = []
        for seed in (1, 2, 3):
            truth = planted_spikes(n_images=1000, sizes=tuple(sizes), n_classes=10, seed=seed,
                                   gains=0.025 * (sizes / 20.0) ** beta)
            gains = [fit_io(aggregate_cofiring(truth["pre"], m), truth["post"][j], truth["T"],
                            n_boot=0)[0].gain for j, m in enumerate(truth["members"])]
            law = gain_law(sizes, gains)
            assert np.sign(law["beta"]) == np.sign(beta), (beta, seed, law)
            directions.append(law["direction"])
        expected, wrong = ("rises", "falls") if beta > 0 else ("falls", "rises")
        assert wrong not in directions and directions.count(expected) >= 2, (beta, directions)
