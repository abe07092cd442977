"""The torch backend on a CUDA GPU against NumPy: counts bit for bit, nulls and edges identical.

Needs only NumPy, torch with CUDA, pytest and pandas; ``scripts/gpu_check.sh`` runs it with
``--noconftest``. Skipped where torch sees no CUDA device (the CPU path is tested in
test_fc_counts.py and test_fc_edges.py). torch may use TF32 for float32 products; 0/1 trains are
exact in TF32 and accumulation stays float32, so counts must not change.
"""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.fc import cofire, exact_null, shift_null, shifted_cofire, significant_edges, sttc

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device")]


def trains(seed: int, n: int, L: int, T: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((n, L)) < rng.uniform(0.01, 0.5, (n, 1))
    x[0], x[1] = False, True
    x[2:, ::T] = False
    return x


@pytest.mark.parametrize("tf32", [False, True])
def test_counts_and_nulls_equal_numpy(tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        a, b = trains(1, 70, 2000), trains(2, 50, 2000)
        assert np.array_equal(cofire(a, b, backend="torch:cuda"), cofire(a, b))
        assert np.array_equal(shifted_cofire(a, b, -24, backend="torch:cuda"),
                              shifted_cofire(a, b, -24))
        np.testing.assert_allclose(sttc(a, b, 2, backend="torch:cuda"), sttc(a, b, 2), rtol=1e-12)
        for ours, ref in zip(shift_null(a, b, T=8, n_shifts=20, measure="cofire",
                                        backend="torch:cuda"),
                             shift_null(a, b, T=8, n_shifts=20, measure="cofire"), strict=True):
            np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)
        for ours, ref in zip(exact_null(a, b, T=8, backend="torch:cuda"), exact_null(a, b, T=8),
                             strict=True):
            np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False


def test_edges_equal_numpy():
    pytest.importorskip("pandas")
    pre, post = trains(3, 120, 1600), trains(4, 90, 1600)
    post[:40] |= pre[:40] & (np.random.default_rng(5).random((40, 1600)) < 0.5)
    for rule in ({"null": "exact"}, {"null": "exact", "fdr": 0.05}, {"null": "shift", "top_k": 3},
                 {"null": "shift", "n_shifts": 40, "fdr": 0.05}):  # (empirical p >= 1/41: none)
        want, rep_np = significant_edges(pre, post, T=8, backend="numpy", tile=32, **rule)
        got, rep = significant_edges(pre, post, T=8, backend="torch:cuda", tile=32, **rule)
        assert rep["significant"] == rep_np["significant"]
        assert rep_np["significant"] > 0 or "fdr" in rule and rule["null"] == "shift"
        assert np.array_equal(got.pre_idx.to_numpy(), want.pre_idx.to_numpy())
        assert np.array_equal(got.post_idx.to_numpy(), want.post_idx.to_numpy())
        np.testing.assert_allclose(got.z.to_numpy(), want.z.to_numpy(), rtol=1e-12)
