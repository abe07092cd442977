"""fcgraph.fc counts, spike matrices and dilation against plain references."""

from __future__ import annotations

import numpy as np
import pytest

import fcgraph.fc.counts as counts_mod
from fcgraph.errors import FcgraphError
from fcgraph.fc import SpikeMatrix, cofire, dilate, pack, permute_images, shifted_cofire, unpack
from fcgraph.fc.backend import Backend
from tests.helpers.fc_reference import adversarial_trains, ref_counts

LENGTHS = [1, 7, 63, 64, 65, 130]


@pytest.mark.parametrize("L", LENGTHS)
def test_cofire_matches_reference_on_adversarial_trains(L: int) -> None:
    rng = np.random.default_rng(L)
    a, b = adversarial_trains(rng, L), adversarial_trains(rng, L)[::-1]
    expected = ref_counts(a, b)
    got = cofire(a, b, tile=3)
    assert got.dtype == np.int64
    assert np.array_equal(got, expected)


def test_cofire_single_neurons_and_integer_input() -> None:
    x = np.array([[0, 1, 1, 0, 2]])
    y = np.array([1, 1, 0, 0, 1])
    assert cofire(x, y).tolist() == [[2]]


@pytest.mark.parametrize("L", LENGTHS)
def test_packed_input_roundtrip_and_counts(L: int) -> None:
    rng = np.random.default_rng(100 + L)
    a, b = adversarial_trains(rng, L), rng.random((5, L)) < 0.4
    pa, pb = SpikeMatrix.from_bool(a), SpikeMatrix(pack(b), L)
    assert pa.packed.shape == (a.shape[0], -(-L // 8))
    assert np.array_equal(unpack(pa.packed, L), a)
    assert np.array_equal(pa.spike_counts(), a.sum(axis=1))
    assert np.array_equal(cofire(pa, pb, tile=2), ref_counts(a, b))


def test_packed_shape_is_checked() -> None:
    with pytest.raises(FcgraphError):
        unpack(np.zeros((2, 3), np.uint8), 30)
    with pytest.raises(FcgraphError):
        cofire(np.zeros((1, 5), bool), np.zeros((1, 6), bool))


def test_time_chunking_path_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.random((6, 101)) < 0.5, rng.random((4, 101)) < 0.5
    monkeypatch.setattr(counts_mod, "F32_EXACT_BINS", 16)  # forces 7 chunks, float64 sums
    assert np.array_equal(cofire(a, b), ref_counts(a, b))
    for s in (0, 5, 16, 50, -33):
        assert np.array_equal(shifted_cofire(a, b, s), ref_counts(a, np.roll(b, s, axis=1)))


def test_counts_beyond_float32_exactness() -> None:
    L = 2**24 + 3  # a single float32 product would round 2**24 + 3 to 2**24 + 4
    ones = np.ones((1, L), dtype=bool)
    assert cofire(ones, ones)[0, 0] == L


@pytest.mark.parametrize("L", [7, 65])
def test_shifted_cofire_equals_rolled_product(L: int) -> None:
    rng = np.random.default_rng(L)
    a, b = adversarial_trains(rng, L), rng.random((4, L)) < 0.3
    for s in (0, 1, L - 1, L, 3 * L + 2, -1, -L - 4):
        assert np.array_equal(shifted_cofire(a, b, s, tile=3), ref_counts(a, np.roll(b, s, axis=1)))


def test_dilate_is_a_clipped_window() -> None:
    x = np.zeros((1, 10), bool)
    x[0, [0, 6]] = True
    assert np.array_equal(dilate(x, 0), x)
    assert dilate(x, 1)[0].astype(int).tolist() == [1, 1, 0, 0, 0, 1, 1, 1, 0, 0]
    assert dilate(x, 4)[0].astype(int).tolist() == [1] * 10


def test_permute_images_moves_whole_blocks() -> None:
    x = np.arange(12).reshape(1, 12) % 5 == 0  # T = 3, M = 4
    out = permute_images(x, np.array([2, 0, 3, 1]), 3)
    blocks = x.reshape(1, 4, 3)
    assert np.array_equal(out.reshape(1, 4, 3), blocks[:, [2, 0, 3, 1]])
    with pytest.raises(FcgraphError):
        permute_images(x, np.array([0, 0, 1, 2]), 3)


def test_fc_imports_with_numpy_alone_and_auto_backend() -> None:
    import subprocess
    import sys

    code = ("import sys, fcgraph.fc; heavy = {'pandas', 'pyarrow', 'torch', 'scipy', 'cupy'}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from fcgraph.fc import get_backend
    from fcgraph.fc.backend import cupy_if_available

    assert get_backend("auto").name == ("cupy" if cupy_if_available() else "numpy")
    with pytest.raises(FcgraphError):
        get_backend("tpu")


def test_torch_backend_counts_with_and_without_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from fcgraph.fc import exact_null, shift_null

    rng = np.random.default_rng(1)
    a, b = rng.random((7, 96)) < 0.3, rng.random((4, 96)) < 0.4
    for chunk in (1 << 24, 40):
        monkeypatch.setattr(counts_mod, "F32_EXACT_BINS", chunk)
        assert np.array_equal(cofire(a, b, backend="torch:cpu"), ref_counts(a, b))
        assert np.array_equal(shifted_cofire(a, b, -5, backend="torch:cpu"),
                              ref_counts(a, np.roll(b, -5, axis=1)))
        for ours, ref in zip(shift_null(a, b, [8, 24, -40], measure="cofire", backend="torch:cpu"),
                             shift_null(a, b, [8, 24, -40], measure="cofire"), strict=True):
            assert np.allclose(ours, ref, rtol=1e-12, atol=0)
        for ours, ref in zip(exact_null(a, b, T=8, backend="torch:cpu"), exact_null(a, b, T=8),
                             strict=True):
            assert np.allclose(ours, ref, rtol=1e-12, atol=0)


class SmallDevice(Backend):
    """NumPy standing in for a GPU whose memory holds 100 bins of 40 neurons' float32 trains."""

    def staging_bytes(self) -> int:
        return 4 * 40 * 100


def test_trains_too_long_for_the_device_go_a_time_chunk_at_a_time() -> None:
    from fcgraph.fc import exact_null, shift_null, significant_edges, sttc
    from fcgraph.fc.counts import StagedTrains

    rng = np.random.default_rng(4)
    T, M = 4, 251  # L = 1004: 11 chunks of at most 100 bins for 40 neurons
    a = rng.random((40, T * M)) < rng.uniform(0.02, 0.4, (40, 1))
    b = rng.random((25, T * M)) < 0.2
    b[:10] |= a[:10] & (rng.random((10, T * M)) < 0.5)
    small = SmallDevice()
    assert StagedTrains(a, small).chunk == 100 and StagedTrains(b, small).chunk == 160
    assert StagedTrains(a, Backend()).chunk == counts_mod.F32_EXACT_BINS
    assert np.array_equal(cofire(a, b, backend=small), cofire(a, b))
    assert np.array_equal(shifted_cofire(a, b, 37, backend=small), shifted_cofire(a, b, 37))
    assert np.array_equal(sttc(a, b, 2, backend=small), sttc(a, b, 2), equal_nan=True)
    for got, want in zip(exact_null(a, b, T=T, backend=small), exact_null(a, b, T=T), strict=True):
        assert np.array_equal(got, want)
    for got, want in zip(shift_null(a, b, T=T, n_shifts=10, backend=small),
                         shift_null(a, b, T=T, n_shifts=10), strict=True):
        assert np.array_equal(got, want)
    edges, _ = significant_edges(a, b, T=T, tile=8, backend=small)
    want, _ = significant_edges(a, b, T=T, tile=8)
    assert len(edges) == len(want) > 0 and edges.equals(want)
