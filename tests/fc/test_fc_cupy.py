"""CuPy kernels against the NumPy backend: counts bit for bit, nulls and edges identical.

Needs only NumPy and pytest (pandas for the edge tables), so it runs on a GPU machine without
the rest of fcgraph's dependencies: ``scripts/gpu_check.sh`` runs it with ``--noconftest``.
Skipped where CuPy is missing or sees no GPU.
"""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.fc import (
    cofire,
    exact_null,
    pearson,
    shift_null,
    shifted_cofire,
    significant_edges,
    sttc,
)
from fcgraph.fc import cupy_kernels as ck

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not ck.available(), reason="CuPy with a GPU is not available")]


def adversarial(seed: int, n: int, L: int, T: int = 8) -> np.ndarray:
    """Boolean (n, L): a silent row, a full row, very sparse and very dense rows, a within-image
    rhythm (silent at each image's first step)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, L)) < rng.uniform(0.01, 0.5, (n, 1))
    x[0] = False
    if n > 1:
        x[1] = True
    if n > 3:
        x[2] = rng.random(L) < 0.002
        x[3] = rng.random(L) < 0.97
    if n > 5:
        x[4:, ::T] = False
    return x


SHAPES = [(1, 1, 8), (3, 5, 77), (17, 9, 64), (40, 33, 1001), (130, 70, 2048)]


@pytest.mark.parametrize(("n_pre", "n_post", "L"), SHAPES)
def test_counts_tf32_int8_popcount_are_exact(n_pre, n_post, L):
    cp = ck.cupy_module()
    a, b = adversarial(1, n_pre, L), adversarial(2, n_post, L)
    want = cofire(a, b)
    got = ck.counts_tf32(cp.asarray(a, dtype=cp.float32), cp.asarray(b, dtype=cp.float32))
    assert np.array_equal(cp.asnumpy(got).astype(np.int64), want)
    got8 = ck.counts_int8(cp.asarray(a, dtype=cp.int8), cp.asarray(b, dtype=cp.int8))
    assert np.array_equal(cp.asnumpy(got8).astype(np.int64), want)
    words_a, words_b = ck.pack_words(cp.asarray(a)), ck.pack_words(cp.asarray(b))
    assert words_a.shape == (n_pre, -(-L // 64))
    assert np.array_equal(cp.asnumpy(ck.popcount_counts(words_a, words_b)).astype(np.int64), want)


def test_the_generic_cupy_backend_equals_numpy():
    a, b = adversarial(13, 40, 1000), adversarial(14, 33, 1000)
    assert np.array_equal(cofire(a, b, backend="cupy"), cofire(a, b))
    assert np.array_equal(shifted_cofire(a, b, 13, backend="cupy"), shifted_cofire(a, b, 13))
    for dt in (0, 2):
        np.testing.assert_allclose(sttc(a, b, dt, backend="cupy"), sttc(a, b, dt), rtol=1e-12)
    np.testing.assert_allclose(pearson(a, b, backend="cupy"), pearson(a, b), rtol=1e-12)
    for ours, ref in zip(shift_null(a, b, [8, 24, -40], measure="cofire", backend="cupy"),
                         shift_null(a, b, [8, 24, -40], measure="cofire"), strict=True):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)
    for over in ("images", "bins"):
        for ours, ref in zip(exact_null(a, b, T=8, over=over, backend="cupy"),
                             exact_null(a, b, T=8, over=over), strict=True):
            np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)


def test_trains_too_long_for_the_gpu_are_staged_a_time_chunk_at_a_time(monkeypatch):
    from fcgraph.fc.backend import CupyBackend
    from fcgraph.fc.counts import StagedTrains

    a, b = adversarial(18, 40, 1000), adversarial(19, 33, 1000)
    be = CupyBackend(ck.cupy_module())
    assert 0 < be.staging_bytes() <= ck.free_device_bytes()
    monkeypatch.setattr(CupyBackend, "staging_bytes", lambda self: 4 * 40 * 128)
    assert StagedTrains(a, be).chunk == 128
    assert np.array_equal(cofire(a, b, backend=be), cofire(a, b))
    for ours, ref in zip(exact_null(a, b, T=8, backend=be), exact_null(a, b, T=8), strict=True):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)


def test_exact_null_float32_products_on_the_gpu_are_ieee_and_exact():
    import fcgraph.fc.exact as exact_mod
    from fcgraph.fc import get_backend

    cp = ck.cupy_module()
    be = get_backend("cupy")
    assert be.exact_float32
    # 2049 needs 12 significant bits: TF32 (10) would make it 2048
    x = cp.asarray(np.array([[2049.0, 1.0]], dtype=np.float32))
    y = cp.asarray(np.array([[3.0, 5.0], [2049.0, 0.0]], dtype=np.float32))
    assert cp.asnumpy(be.matmul_nt_float32(x, y)).tolist() == [[6152.0, 2049.0**2]]
    with pytest.MonkeyPatch.context() as mp:  # more columns than one cuBLAS call may sum
        mp.setattr(ck, "F32_EXACT_BINS", 3)
        u, v = np.arange(14.0, dtype=np.float32).reshape(2, 7), np.ones((3, 7), np.float32)
        got = be.matmul_nt_float32(cp.asarray(u), cp.asarray(v))
        assert cp.asnumpy(got).tolist() == (u @ v.T).tolist()
    rng = np.random.default_rng(21)
    T, M = 4, 30
    a = rng.random((8, T * M)) < np.linspace(0.05, 0.9, 8)[:, None]
    b = rng.random((5, T * M)) < 0.5
    null = exact_mod.ExactShiftNull(T * M, T=T)
    truth = sum(cofire(a, np.roll(b, s, axis=1)) ** 2 for s in range(0, T * M, T))
    blocks = exact_mod.ExactNullBlocks(null, a, be)
    assert blocks.narrow and blocks._cached is not None
    g, d = null.baseline(null.phase_counts(b))
    res, norms = null.residual_features(b, g, False, np.float32)
    cross = np.rint(blocks.left @ null.cross_right(g, d).T).astype(np.int64)
    products = np.outer(blocks.norms, norms)
    for limit in (0.0, float(np.median(products)), exact_mod.NORM_PRODUCT_LIMIT):
        blocks.limit = limit  # pairs above it are redone in float64 on the GPU
        got = cross + blocks._sum_squares(0, len(a), {"res": res, "norms": norms})
        assert np.array_equal(got, truth)


@pytest.mark.parametrize("shift", [0, 1, 8, 63, -5, 1000, 1001, -1000])
def test_shifted_counts_need_no_rolled_copy(shift):
    cp = ck.cupy_module()
    a, b = adversarial(3, 40, 1001), adversarial(4, 33, 1001)
    got = ck.shifted_counts(cp.asarray(a, dtype=cp.float32), cp.asarray(b, dtype=cp.float32), shift)
    assert np.array_equal(cp.asnumpy(got).astype(np.int64), shifted_cofire(a, b, shift))
    assert np.array_equal(cp.asnumpy(got).astype(np.int64), cofire(a, np.roll(b, shift, axis=1)))


def test_gemm_on_column_slices_accumulates():
    cp = ck.cupy_module()
    a, b = adversarial(5, 20, 300), adversarial(6, 10, 300)
    da, db = cp.asarray(a, dtype=cp.float32), cp.asarray(b, dtype=cp.float32)
    out = cp.zeros((20, 10), dtype=cp.float32)
    ck.gemm_nt(out, da, 7, db, 100, 150)
    ck.gemm_nt(out, da, 0, db, 0, 3, beta=1.0)
    want = cofire(a[:, 7:157], b[:, 100:250]) + cofire(a[:, :3], b[:, :3])
    assert np.array_equal(cp.asnumpy(out).astype(np.int64), want)


@pytest.mark.parametrize("measure", ["sttc", "pearson", "cofire"])
def test_fused_shift_null_edges_equal_numpy(measure):
    pytest.importorskip("pandas")
    T, M = 8, 250
    rng = np.random.default_rng(7)
    pre = adversarial(8, 300, T * M)
    drivers = rng.choice(300, 200)
    post = (pre[drivers] & (rng.random((200, T * M)) < 0.4)) | (rng.random((200, T * M)) < 0.08)
    post[0] = False
    rule = {"T": T, "measure": measure, "null": "shift", "n_shifts": 100, "z": 3.0, "tile": 64}
    want, rep_np = significant_edges(pre, post, backend="numpy", **rule)
    got, rep_cp = significant_edges(pre, post, backend="cupy", **rule)
    for key in ("pairs", "tested", "untested", "zero_spread", "nonfinite", "negative_tail",
                "significant", "edges"):
        assert rep_cp[key] == rep_np[key], key
    assert len(got) == len(want) > 100
    for col in ("pre_idx", "post_idx", "cofire"):
        assert np.array_equal(got[col].to_numpy(), want[col].to_numpy()), col
    for col in ("value", "null_mean", "null_sd", "z"):
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-12, atol=1e-12)
    # the null itself, against shift_null (mean, sample SD) on the same shifts
    mean, sd = shift_null(pre[:50], post[:40], T=T, n_shifts=100, measure="cofire")
    sub, _ = significant_edges(pre[:50], post[:40], backend="cupy", **{**rule, "z": -1e9})
    i, j = sub.pre_idx.to_numpy(), sub.post_idx.to_numpy()
    assert i.size > 500
    np.testing.assert_allclose(sub.null_mean.to_numpy(), mean[i, j], rtol=1e-12)
    np.testing.assert_allclose(sub.null_sd.to_numpy(), sd[i, j], rtol=1e-12)


def test_shift_batches_sum_the_same_moments():
    T, M = 4, 200
    pre, post = adversarial(11, 50, T * M, T), adversarial(12, 30, T * M, T)
    shifts = np.arange(1, 12) * T
    tested = np.ones(50, bool)
    results = [ck.ShiftNullEngine(pre, shifts, measure="sttc", z=-1e9, tested_pre=tested,
                                  batch=batch).tile(post, np.ones(30, bool))
               for batch in (1, 3, 8, 64)]
    mean, sd = shift_null(pre, post, shifts=shifts, measure="cofire")
    for picked, counts in results:
        assert counts == results[0][1]
        i, j = picked["pre_idx"], picked["post_local"]
        assert i.size > 1000
        np.testing.assert_allclose(picked["null_mean"], mean[i, j], rtol=1e-12)
        np.testing.assert_allclose(picked["null_sd"], sd[i, j], rtol=1e-12)
        for key in picked:
            assert np.array_equal(picked[key], results[0][0][key], equal_nan=True), key
    # an empty tile launches nothing and gives nothing
    picked, counts = ck.ShiftNullEngine(pre, shifts, measure="sttc", z=3.0,
                                        tested_pre=tested).tile(post[:0], np.ones(0, bool))
    assert counts == {"tested": 0, "zero_spread": 0, "nonfinite": 0, "negative_tail": 0}
    assert all(v.size == 0 for v in picked.values())


@pytest.mark.parametrize("L", [1, 63, 64, 65, 1001])
def test_packed_trains_roll_as_numpy_rolls_them(L):
    cp = ck.cupy_module()
    x = adversarial(15, 7, L, T=1)
    words = cp.asarray(ck.host_words(x))
    assert np.array_equal(cp.asnumpy(words), cp.asnumpy(ck.pack_words(cp.asarray(x))))
    for shift in (0, 1, -5, 64, L - 1, 3 * L + 2):
        want = ck.host_words(np.roll(x, shift, axis=1))
        assert np.array_equal(cp.asnumpy(ck.roll_words(words, L, shift)), want), shift


def test_packed_shift_null_equals_the_float32_one():
    T, M = 4, 130  # L = 520: not a whole number of words
    pre, post = adversarial(16, 40, T * M, T), adversarial(17, 24, T * M, T)
    post[:10] |= pre[:10] & (np.random.default_rng(3).random((10, T * M)) < 0.5)
    shifts = np.array([4, 64, -8, 200, 517, -300])
    tested = np.ones(40, bool)
    results = [ck.ShiftNullEngine(pre, shifts, measure="sttc", z=-1e9, tested_pre=tested,
                                  batch=4, packed=packed).tile(post, np.ones(24, bool))
               for packed in (False, True)]
    assert results[1][1] == results[0][1]
    assert results[0][0]["pre_idx"].size > 500
    for key in results[0][0]:
        assert np.array_equal(results[1][0][key], results[0][0][key], equal_nan=True), key
    assert not ck.needs_packing(8192, 8000, free_bytes=80 << 30)  # sew-small on an H100
    assert ck.needs_packing(8192, 10**6, free_bytes=15 << 30)  # 10**6 bins on a T4


def test_fused_path_with_top_k_and_candidates_and_exact_null():
    pytest.importorskip("pandas")
    T, M = 4, 300
    pre, post = adversarial(9, 120, T * M, T), adversarial(10, 90, T * M, T)
    post[:40] |= pre[:40] & (np.random.default_rng(1).random((40, T * M)) < 0.5)
    cand = np.random.default_rng(2).random((120, 90)) < 0.5
    for rule in ({"null": "shift", "top_k": 3, "candidates": cand, "n_shifts": 40, "shift_unit": 1},
                 {"null": "shift", "n_shifts": 40, "fdr": 0.05}, {"null": "shift", "dt": 2},
                 {"null": "exact"}, {"null": "exact", "shift_unit": 1, "fdr": 0.05}):
        want, rep_np = significant_edges(pre, post, T=T, backend="numpy", tile=32, **rule)
        got, rep_cp = significant_edges(pre, post, T=T, backend="cupy", tile=32, **rule)
        assert rep_cp["significant"] == rep_np["significant"] and rep_cp["tested"] == rep_np["tested"]
        assert np.array_equal(got.pre_idx.to_numpy(), want.pre_idx.to_numpy())
        assert np.array_equal(got.post_idx.to_numpy(), want.post_idx.to_numpy())
        np.testing.assert_allclose(got.z.to_numpy(), want.z.to_numpy(), rtol=1e-12)
