"""STTC (dt = 0 and dt > 0) and Pearson against per-pair references."""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.fc import SpikeMatrix, pearson, pearson_from_counts, sttc, sttc_from_counts
from tests.helpers.fc_reference import adversarial_trains, allclose_nan, ref_pearson, ref_sttc

LENGTHS = [1, 7, 63, 65]


@pytest.mark.parametrize("L", LENGTHS)
def test_sttc_dt0_matches_definition(L: int) -> None:
    rng = np.random.default_rng(L)
    a, b = adversarial_trains(rng, L), adversarial_trains(rng, L)
    assert allclose_nan(sttc(a, b, tile=3), ref_sttc(a, b, 0))


@pytest.mark.parametrize(("L", "dt"), [(7, 1), (40, 2), (65, 3), (30, 40)])
def test_sttc_tiled_matches_cutts_eglen(L: int, dt: int) -> None:
    rng = np.random.default_rng(L * 10 + dt)
    a = adversarial_trains(rng, L)
    b = np.vstack([adversarial_trains(rng, L)[2:5], rng.random((3, L)) < 0.1])
    assert allclose_nan(sttc(a, b, dt, tile=2), ref_sttc(a, b, dt))
    assert allclose_nan(sttc(SpikeMatrix.from_bool(a), b, dt), ref_sttc(a, b, dt))


def test_sttc_known_values() -> None:
    x = np.array([[1, 0, 1, 0, 0, 0, 0, 0]], bool)
    assert sttc(x, x)[0, 0] == pytest.approx(1.0)
    assert sttc(x, ~x)[0, 0] == pytest.approx(0.5 * ((0 - 6 / 8) + (0 - 2 / 8)))
    silent = np.zeros((1, 8), bool)
    assert np.isnan(sttc(x, silent)[0, 0])
    assert np.isnan(sttc(x, np.ones((1, 8), bool))[0, 0])


@pytest.mark.parametrize("L", LENGTHS)
def test_pearson_matches_reference(L: int) -> None:
    rng = np.random.default_rng(L + 7)
    a, b = adversarial_trains(rng, L), adversarial_trains(rng, L)
    assert allclose_nan(pearson(a, b, tile=4), ref_pearson(a, b))


def test_formulas_from_counts_broadcast() -> None:
    c = np.array([[2, 0], [1, 3]])
    n_pre, n_post = np.array([4, 3]), np.array([2, 5])
    s = sttc_from_counts(c, n_pre, n_post, 10)
    r = pearson_from_counts(c, n_pre, n_post, 10)
    assert s.shape == r.shape == (2, 2)
    assert r[0, 0] == pytest.approx((10 * 2 - 8) / np.sqrt(4 * 6 * 2 * 8))
