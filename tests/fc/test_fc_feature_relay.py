"""FeatureRelay: a layer's exact-null features computed once for two layer pairs, same edges."""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.fc import significant_edges
from fcgraph.fc.exact import ExactShiftNull
from fcgraph.fc.feature_relay import FeatureRelay

T, M = 4, 60


def _layer(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    x = rng.random((n, T * M)) < rate
    x[::7] = False  # silent neurons: left out of the products, so kept rows differ per layer
    x[3, :5] = True
    return x


def _frames_equal(a, b) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0
    for name in a.columns:
        assert np.array_equal(a[name].to_numpy(), b[name].to_numpy()), name


@pytest.mark.parametrize("over_bins", [False, True])
def test_a_chain_of_pairs_computes_each_layer_once_with_the_same_edges(monkeypatch, over_bins):
    rng = np.random.default_rng(5)
    a, b, c = _layer(rng, 40, 0.2), _layer(rng, 50, 0.1), _layer(rng, 30, 0.3)
    b[10:20] |= np.roll(a[:10], 1, axis=1)  # some real edges
    rule = {"T": T, "null": "exact", "tile": 16, "min_spikes": 3, "z": 2.0,
            "shift_unit": 1 if over_bins else None}
    want_ab = significant_edges(a, b, pre_layer="a", post_layer="b", **rule)[0]
    want_bc = significant_edges(b, c, pre_layer="b", post_layer="c", **rule)[0]

    rows_seen: list[int] = []
    original = ExactShiftNull.residual_features

    def counting(self, spikes, *args, **kwargs):
        rows_seen.append(spikes.shape[0])
        return original(self, spikes, *args, **kwargs)

    monkeypatch.setattr(ExactShiftNull, "residual_features", counting)
    relay = FeatureRelay()
    got_ab = significant_edges(a, b, pre_layer="a", post_layer="b", relay=relay, **rule)[0]
    first = sum(rows_seen)
    got_bc = significant_edges(b, c, pre_layer="b", post_layer="c", relay=relay, **rule)[0]
    tested = [int((x.sum(axis=1) >= 3).sum()) for x in (a, b, c)]
    assert first == tested[0] + tested[1]  # a as pre, b's tiles as post
    assert sum(rows_seen) - first == tested[2]  # b's features came from the relay
    _frames_equal(got_ab, want_ab)
    _frames_equal(got_bc, want_bc)


def test_features_are_offered_only_to_the_same_layer_rows_and_null():
    rng = np.random.default_rng(2)
    x = rng.random((12, T * M)) < 0.2
    null = ExactShiftNull(T * M, T=T)
    g, _ = null.baseline(null.phase_counts(x))
    res, norms = null.residual_features(x, g, False)
    rows = np.arange(12)

    def filled(relay: FeatureRelay) -> FeatureRelay:
        relay.start(("clean", "b"), null, rows)
        relay.keep(res[:5], norms[:5])
        relay.keep(res[5:], norms[5:])
        return relay

    got = filled(FeatureRelay()).take(("clean", "b"), null, rows)
    assert got is not None and np.array_equal(got[0], res) and np.array_equal(got[1], norms)
    relay = filled(FeatureRelay())
    assert relay.take(("clean", "b"), null, rows) is not None
    assert relay.take(("clean", "b"), null, rows) is None  # handed over once
    assert filled(FeatureRelay()).take(("noise", "b"), null, rows) is None
    assert filled(FeatureRelay()).take(("clean", "b"), null, rows[1:]) is None
    other = ExactShiftNull(T * M, over="bins")
    assert filled(FeatureRelay()).take(("clean", "b"), other, rows) is None
    partial = FeatureRelay()
    partial.start(("clean", "b"), null, rows)
    partial.keep(res[:5], norms[:5])  # a pair that failed half way
    assert partial.take(("clean", "b"), null, rows) is None
