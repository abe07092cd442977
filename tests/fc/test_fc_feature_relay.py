"""FeatureRelay: a layer's exact-null features computed once for two layer pairs, same edges."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fcgraph.fc import significant_edges
from fcgraph.fc.exact import ExactShiftNull
from fcgraph.fc.feature_relay import FeatureRelay, FeatureStore

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


def test_a_store_keeps_the_latest_layers_only():
    rng = np.random.default_rng(3)
    x = rng.random((12, T * M)) < 0.2
    null = ExactShiftNull(T * M, T=T)
    g, _ = null.baseline(null.phase_counts(x))
    res, norms = null.residual_features(x, g, False)
    rows = np.arange(12)
    store = FeatureStore(2)
    for layer in ("a", "b", "c"):  # each kept by its own relay (a layer pair), as on a worker
        relay = FeatureRelay(store)
        relay.start(layer, null, rows)
        relay.keep(res.copy(), norms.copy())
    assert store.stats() == {"hits": 0, "misses": 0, "kept": 3, "held": 2}
    assert FeatureRelay(store).take("a", null, rows) is None  # the oldest went
    got = FeatureRelay(store).take("c", null, rows)
    assert got is not None and np.array_equal(got[0], res)
    assert store.stats() == {"hits": 1, "misses": 1, "kept": 3, "held": 1}
    FeatureRelay(store).start("d", null, rows)  # room for one more: "b" stays
    assert store.stats()["held"] == 1
    FeatureRelay(store).take("x", null, rows)
    relay = FeatureRelay(store)
    relay.start("d", null, rows)
    relay.keep(res.copy(), norms.copy())
    relay = FeatureRelay(store)
    relay.start("e", null, rows)  # "b" and "d" held: the oldest goes before "e" is filled
    assert FeatureRelay(store).take("b", null, rows) is None
    assert FeatureRelay(store).take("d", null, rows) is not None


def test_a_scope_keeps_apart_what_its_key_tells_apart():
    """The scope a worker's task gives its relay (the spike file's hash): features kept under
    one hash are never given to a layer of another hash, even of the same name and rows."""
    rng = np.random.default_rng(4)
    x = rng.random((12, T * M)) < 0.2
    null = ExactShiftNull(T * M, T=T)
    g, _ = null.baseline(null.phase_counts(x))
    res, norms = null.residual_features(x, g, False)
    rows = np.arange(12)
    store = FeatureStore(2)
    old = FeatureRelay(store, lambda layer: (*layer, "sha-old"))
    old.start(("clean", "b"), null, rows)
    old.keep(res, norms)
    assert FeatureRelay(store, lambda layer: (*layer, "sha-new")).take(("clean", "b"), null,
                                                                        rows) is None
    same = FeatureRelay(store, lambda layer: (*layer, "sha-old"))
    assert same.take(("clean", "b"), null, rows) is not None and same.taken == 1


def test_threads_sharing_a_store_each_get_their_own_chains_features():
    """Two threads run a chain each (two conditions) with relays on one store of 2 layers, as
    a worker with two threads does: the same edges as without a relay, and both chains reuse."""
    rng = np.random.default_rng(6)
    chains = {c: (_layer(rng, 40, 0.2), _layer(rng, 50, 0.1), _layer(rng, 30, 0.3))
              for c in ("clean", "noise")}
    rule = {"T": T, "null": "exact", "tile": 16, "min_spikes": 3, "z": 2.0}

    def run(condition: str, relay: FeatureRelay | None) -> list:
        a, b, c = chains[condition]
        return [significant_edges(a, b, pre_layer="a", post_layer="b", condition=condition,
                                  relay=relay, **rule)[0],
                significant_edges(b, c, pre_layer="b", post_layer="c", condition=condition,
                                  relay=relay, **rule)[0]]

    want = {c: run(c, None) for c in chains}
    store = FeatureStore(2)
    with ThreadPoolExecutor(2) as pool:
        got = dict(zip(chains, pool.map(lambda c: run(c, FeatureRelay(store)), chains), strict=True))
    assert store.stats()["hits"] == 2 and store.stats()["misses"] == 2
    for c in chains:
        for g, w in zip(got[c], want[c], strict=True):
            _frames_equal(g, w)


def _recording(root, b_flip: bool = False):
    """A recording of layers a -> b -> c (one condition); ``b_flip``: one spike of b moved."""
    from fcgraph.analysis.synthetic import write_recording

    rng = np.random.default_rng(0)
    layers = [("a", (4, 3, 3)), ("b", (12,)), ("c", (8,))]
    spikes = {name: rng.random((int(np.prod(shape)), T * M)) < 0.2 for name, shape in layers}
    if b_flip:
        spikes["b"][2, 7] = not spikes["b"][2, 7]
        spikes["b"][2, 9] = not spikes["b"][2, 9]
    write_recording(root, "relay-test", layers, T, np.zeros(M, dtype=np.int64), {"clean": spikes})
    return root


def test_a_worker_takes_features_only_from_the_same_spike_file(tmp_path, monkeypatch):
    """pair_unit (a Dask task, run here) on the process's store: b's features kept by a -> b are
    taken by b -> c of the same recording, or of a copy with the same bytes, never by b -> c of
    a recording whose b differs (the same names, neurons and null: only the hash tells them
    apart), whose part is then the one computed from scratch."""
    import fcgraph.fc.feature_relay as relay_module
    from fcgraph.fc.run import compute_run, pair_unit
    from fcgraph.fc.settings import FcParams

    params = FcParams.create(threshold="normal")
    args = (params, ("numpy", ""), 16, "clean")
    x, same, y = (_recording(tmp_path / "x"), _recording(tmp_path / "same"),
                  _recording(tmp_path / "y", b_flip=True))
    for rec in (x, same, y):
        compute_run(rec, backend="numpy", threshold="normal")  # the folders' plans and parts
    want = (y / "fc/.parts/clean/001.json").read_text()

    monkeypatch.setattr(relay_module, "_WORKER_STORE", None)  # a fresh worker process
    assert pair_unit(str(x), *args, 0, "a", "b")["features_reused"] == 0
    changed = pair_unit(str(y), *args, 1, "b", "c")
    assert changed["features_reused"] == 0  # x's b is not y's b
    assert pair_unit(str(same), *args, 1, "b", "c")["features_reused"] == 1  # the same bytes
    json_of = (y / "fc/.parts/clean/001.json").read_text()
    assert _without_seconds(json_of) == _without_seconds(want)
    _frames_equal(_part_edges(y), _pair_edges(y, "b"))
    pair_unit(str(y), *args, 0, "a", "b")
    assert pair_unit(str(y), *args, 1, "b", "c")["features_reused"] == 1
    assert _without_seconds((y / "fc/.parts/clean/001.json").read_text()) == \
        _without_seconds(want)
    _frames_equal(_part_edges(y), _pair_edges(y, "b"))


def _part_edges(rec):
    import pandas as pd

    return pd.read_parquet(rec / "fc/.parts/clean/001.parquet")


def _pair_edges(rec, pre: str):
    """The rows of the layer pair from ``pre`` in the in-process run's edge table."""
    import pandas as pd

    from fcgraph.run_folder import RunFolder

    edges = pd.read_parquet(RunFolder(rec).edges("clean"))
    return edges[edges.pre_layer == pre].reset_index(drop=True)


def _without_seconds(text: str) -> dict:
    import json

    from tests.helpers.dask_cluster import without_timings

    return without_timings(json.loads(text))
