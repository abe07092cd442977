"""Shift nulls: the draw, the sampled null against brute force, the exact null over all shifts."""

from __future__ import annotations

import numpy as np
import pytest

import fcgraph.fc.counts as counts_mod
import fcgraph.fc.exact as exact_mod
from fcgraph.errors import FcgraphError
from fcgraph.fc import SpikeMatrix, draw_shifts, exact_null, get_backend, pearson, shift_null, sttc
from tests.helpers.fc_reference import adversarial_trains, allclose_nan, brute_shift_counts


def test_draw_shifts_whole_images_half_each_way() -> None:
    s = draw_shifts(800, n_shifts=100, min_shift=40, shift_unit=8, seed=1)
    assert s.shape == (100,) and s.dtype == np.int64
    assert (s[:50] > 0).all() and (s[50:] < 0).all()
    assert (np.abs(s) % 8 == 0).all() and (np.abs(s) >= 40).all() and (np.abs(s) <= 760).all()
    assert len(set(s[:50].tolist())) == 50  # without replacement when enough magnitudes
    assert np.array_equal(s, draw_shifts(800, 100, 40, 8, seed=1))
    odd = draw_shifts(101, n_shifts=7, min_shift=3, shift_unit=1, seed=0)
    assert odd.size == 7 and (odd != 0).all() and (np.abs(odd) >= 3).all()
    with pytest.raises(FcgraphError):
        draw_shifts(50, min_shift=40, shift_unit=8)


@pytest.mark.parametrize("measure", ["cofire", "sttc", "pearson"])
def test_shift_null_matches_brute_force(measure: str) -> None:
    rng = np.random.default_rng(11)
    L = 65
    a, b = adversarial_trains(rng, L), rng.random((5, L)) < 0.3
    shifts = [3, -7, 20, 64, 130, -200]
    mean, sd = shift_null(a, b, shifts, measure=measure, tile=2)
    if measure == "cofire":
        vals = brute_shift_counts(a, b, shifts).astype(float)
    else:
        fn = sttc if measure == "sttc" else pearson
        vals = np.array([fn(a, np.roll(b, s, axis=1)) for s in shifts])
    assert allclose_nan(mean, vals.mean(axis=0))
    assert allclose_nan(sd, vals.std(axis=0, ddof=1))


def test_shift_null_tiled_sttc_matches_brute_force() -> None:
    rng = np.random.default_rng(12)
    a, b = rng.random((4, 48)) < 0.2, rng.random((3, 48)) < 0.2
    shifts = [5, -9, 17]
    mean, sd = shift_null(a, b, shifts, measure="sttc", dt=2)
    vals = np.array([sttc(a, np.roll(b, s, axis=1), 2) for s in shifts])
    assert allclose_nan(mean, vals.mean(axis=0)) and allclose_nan(sd, vals.std(axis=0, ddof=1))


def test_shift_null_draw_needs_a_unit() -> None:
    a = np.ones((1, 100), bool)
    with pytest.raises(FcgraphError):
        shift_null(a, a)
    mean, sd = shift_null(a, a, T=10, n_shifts=4, measure="cofire")
    assert mean[0, 0] == 100 and sd[0, 0] == 0.0


@pytest.mark.parametrize(("T", "M"), [(1, 30), (3, 11), (8, 9), (5, 2)])
@pytest.mark.parametrize("include_zero", [False, True])
@pytest.mark.parametrize("sums", ["float64", "int64"])
def test_exact_null_equals_brute_force(monkeypatch: pytest.MonkeyPatch, T: int, M: int,
                                       include_zero: bool, sums: str) -> None:
    if sums == "int64":  # the path of recordings too long for exact float64 sums
        monkeypatch.setattr(exact_mod, "FLOAT64_EXACT", 0)
    L = T * M
    rng = np.random.default_rng(T * 100 + M)
    a, b = adversarial_trains(rng, L), np.vstack([adversarial_trains(rng, L)[3:], rng.random((2, L)) < 0.5])
    first = 0 if include_zero else 1
    for over, shifts in (("bins", range(first, L)), ("images", range(first * T, L, T))):
        vals = brute_shift_counts(a, b, list(shifts)).astype(float)
        mean, sd = exact_null(a, b, T=T, over=over, include_zero_shift=include_zero, tile=3)
        assert exact_mod.ExactShiftNull(L, over=over, T=T).sum_dtype is getattr(np, sums)
        assert np.allclose(mean, vals.mean(axis=0), rtol=1e-12, atol=1e-12)
        if len(vals) > 1:
            assert np.allclose(sd, vals.std(axis=0, ddof=1), rtol=1e-12, atol=1e-12)
        else:
            assert np.isnan(sd).all()


def test_exact_null_equals_shift_null_over_all_shifts() -> None:
    rng = np.random.default_rng(5)
    T, M = 8, 40
    L = T * M
    a = (rng.random((20, L)) < rng.uniform(0.01, 0.6, (20, 1)))
    b = (rng.random((15, L)) < rng.uniform(0.01, 0.6, (15, 1)))
    for over, shifts in (("bins", range(1, L)), ("images", range(T, L, T))):
        m_exact, s_exact = exact_null(a, b, T=T, over=over)
        m_shift, s_shift = shift_null(a, b, list(shifts), measure="cofire")
        assert np.allclose(m_exact, m_shift, rtol=1e-6, atol=0)
        assert np.allclose(s_exact, s_shift, rtol=1e-6, atol=0)


@pytest.mark.parametrize("cache_bytes", [0, 1 << 30])  # none, float32 cache
def test_exact_null_zero_spread_is_exactly_zero_and_blocks(monkeypatch: pytest.MonkeyPatch,
                                                           cache_bytes: int) -> None:
    rng = np.random.default_rng(9)
    T, M = 4, 25
    a = np.vstack([np.ones((1, T * M), bool), np.zeros((1, T * M), bool), rng.random((5, T * M)) < 0.3])
    b = rng.random((6, T * M)) < 0.3
    whole = exact_null(a, b, T=T)
    assert (whole[1][:2] == 0).all() and (whole[1][2:] > 0).all()
    monkeypatch.setattr(exact_mod, "FEATURE_BLOCK_BYTES", 8 * 200)  # pre features in blocks
    monkeypatch.setattr(exact_mod, "FEATURE_CACHE_BYTES", cache_bytes)  # 0: recomputed per tile
    monkeypatch.setattr(exact_mod, "MIN_ROWS_PER_THREAD", 2)  # features on several threads
    monkeypatch.setattr(counts_mod, "F32_EXACT_BINS", 32)  # chunked counts
    blocked = exact_null(SpikeMatrix.from_bool(a), SpikeMatrix.from_bool(b), T=T, tile=4)
    blocks = exact_mod.ExactNullBlocks(exact_mod.ExactShiftNull(T * M, T=T), a, get_backend())
    assert blocks._cached is None if cache_bytes == 0 else blocks._cached.dtype == np.float32
    assert np.array_equal(whole[0], blocked[0]) and np.array_equal(whole[1], blocked[1])


def test_exact_null_checks_T() -> None:
    a = np.ones((1, 10), bool)
    with pytest.raises(FcgraphError):
        exact_null(a, a, T=3)
    with pytest.raises(FcgraphError):
        exact_null(a, a, T=2, over="nope")


@pytest.mark.parametrize("over", ["images", "bins"])
def test_float32_products_are_kept_only_where_proven_exact(over: str) -> None:
    rng = np.random.default_rng(21)
    T, M = 4, 30
    a = rng.random((8, T * M)) < np.linspace(0.05, 0.9, 8)[:, None]
    b = rng.random((5, T * M)) < 0.5
    null = exact_mod.ExactShiftNull(T * M, over=over, T=T)
    shifts = range(0, T * M, null.T)
    truth = (brute_shift_counts(a, b, shifts) ** 2).sum(axis=0)
    feats_a, feats_b = null.features(a, weighted=True), null.features(b, weighted=False)
    assert np.array_equal(truth, np.rint(feats_a @ feats_b.T).astype(np.int64))
    blocks = exact_mod.ExactNullBlocks(null, a, get_backend("numpy"))
    g, d = null.baseline(null.phase_counts(b))
    res, norms = null.residual_features(b, g, False, np.float32)
    assert np.array_equal(res, feats_b - np.repeat(g, np.diff(null.block_start), axis=1))
    exact_norms = np.sqrt((res.astype(np.float64) ** 2 * null.weights).sum(1))
    assert (norms >= exact_norms).all() and (norms <= exact_norms * (1 + 2**-9)).all()
    with pytest.MonkeyPatch.context() as mp:  # too many terms for float32 sums: float64 sums
        mp.setattr(null, "norm_inflation", 1.0)
        assert np.allclose(null.residual_features(b, g, False)[1], exact_norms, rtol=1e-12)
    staged = {"res": res, "norms": norms}
    cross = np.rint(blocks.left @ null.cross_right(g, d).T).astype(np.int64)
    products = np.outer(blocks.norms, staged["norms"])
    for limit in (0.0, float(np.median(products)), exact_mod.NORM_PRODUCT_LIMIT):
        blocks.limit = limit  # pairs above the limit must be redone in float64
        got = cross + blocks._sum_squares(0, len(a), dict(staged))
        assert np.array_equal(got, truth)
    # the residual norms bound every residual dot product (Cauchy-Schwarz)
    resid = np.abs(blocks._cached.astype(np.float64)) @ np.abs(res.astype(np.float64)).T
    assert (resid <= products * (1 + 1e-12)).all()
    assert 0 < exact_mod.float32_exact_limit(32000) < 2**24
    assert exact_mod.float32_exact_limit(10) > exact_mod.float32_exact_limit(10**6)
    assert exact_mod.float32_exact_limit(2**23) == 0.0


def test_float32_rounding_would_be_caught() -> None:
    x = np.full((1, 4), 2**12 + 1, dtype=np.float32)  # true dot product 4 (2**12+1)**2 > 2**24
    assert float((x @ x.T)[0, 0]) > exact_mod.float32_exact_limit(4)


@pytest.mark.parametrize("M", [30, 37])  # 37 images: a prime FFT length, correlated at N >= 2M-1
def test_features_are_the_same_with_numpy_fft(monkeypatch, M: int) -> None:
    """Without SciPy the FFTs fall back to numpy.fft: the same exact integers."""
    rng = np.random.default_rng(23)
    T = 4
    a = rng.random((70, T * M)) < rng.uniform(0.05, 0.9, (70, 1))
    null = exact_mod.ExactShiftNull(T * M, T=T)
    g, _ = null.baseline(null.phase_counts(a))
    monkeypatch.setattr(exact_mod, "FFT_CHUNK_BYTES", 1)  # one row at a time
    with_scipy = null.residual_features(a, g, True)
    monkeypatch.setattr(exact_mod, "fft_module", lambda: np.fft)
    with_numpy = null.residual_features(a, g, True)
    assert np.array_equal(with_scipy[0], with_numpy[0])
    assert np.allclose(with_scipy[1], with_numpy[1], rtol=1e-12)
