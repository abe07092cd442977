"""compute_run on a real tiny recording: tables equal significant_edges, resume, settings guard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import fcgraph.record
from fcgraph.contract import LayerInfo, layer_pairs, read_manifest
from fcgraph.errors import FcgraphError
from fcgraph.fc import calibrate, cofire, control_threshold, significant_edges, sttc
from fcgraph.fc.pair import receptive_field
from fcgraph.fc.run import SettingsChanged, compute_run
from fcgraph.fc.settings import FcParams
from fcgraph.validate import validate_run
from tests.helpers.tiny import CONDITIONS


@pytest.fixture
def rec_copy(tiny_recording, tmp_path) -> Path:
    """A private copy of the tiny recording that a test may write fc output into."""
    out = tmp_path / "tiny-run"
    shutil.copytree(tiny_recording, out)
    return out


def edge_table(root: Path, condition: str) -> pd.DataFrame:
    manifest = read_manifest(root)
    return pq.read_table(manifest.edge_files(root)[condition]).to_pandas()


def direct(rec, condition: str, pre: str, post: str, **rule):
    return significant_edges(rec.packed(condition, pre), rec.packed(condition, post), T=rec.T,
                             backend="numpy", pre_layer=pre, post_layer=post, run_id=rec.run_id,
                             condition=condition, **rule)


def same_frames(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.reset_index(drop=True)
    want = want.reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    for name in want.columns:
        assert np.array_equal(got[name].to_numpy(), want[name].to_numpy()), name


def test_exact_null_tables_match_significant_edges(rec_copy):
    summary = compute_run(rec_copy, null="exact", backend="numpy")
    rec = fcgraph.record.open_recording(rec_copy)
    pairs = layer_pairs(rec.layers)
    assert len(pairs) == len(rec.layers) - 1
    assert len(summary) == len(CONDITIONS) * len(pairs) and not summary.resumed.any()
    manifest = read_manifest(rec_copy)
    assert manifest.fc["parameters"]["null"] == "exact" and "n_shifts" not in manifest.fc["parameters"]
    assert set(manifest.fc["edges"]) == set(CONDITIONS)
    validate_run(rec_copy, manifest)  # what `fcgraph ingest` checks first
    for condition in CONDITIONS:
        table = edge_table(rec_copy, condition)
        assert table.condition.eq(condition).all() and table.run_id.eq(rec.run_id).all()
        counts = manifest.fc["layer_pairs"][condition]
        assert [(c["pre_layer"], c["post_layer"]) for c in counts] == pairs
        total = 0
        for (pre, post), entry in zip(pairs, counts, strict=True):
            threshold = entry["threshold"]  # the default rule: z set from the control (draw 1)
            assert threshold["rule"] == "control" and threshold["nominal_z"] == 3.0
            assert threshold["z"] >= 3.0 and entry["nominal_rate"] == threshold["nominal_rate"]
            if threshold["control_tested"]:  # else no rate (None) and the nominal z
                assert threshold["control_rate"] <= threshold["nominal_rate"]
            else:
                assert threshold["control_rate"] is None and threshold["z"] == 3.0
            want, report = direct(rec, condition, pre, post, null="exact", z=threshold["z"])
            got = table[(table.pre_layer == pre) & (table.post_layer == post)]
            same_frames(got, want)
            total += len(want)
            for key in ("pairs", "tested", "untested", "zero_spread", "nonfinite", "negative_tail",
                        "significant", "edges"):
                assert entry[key] == report[key], key
            assert entry["tested"] + entry["untested"] == entry["pairs"] > 0
        assert len(table) == total > 0
    # the threshold is control_threshold's, recomputed directly for the last layer pair
    pre, post = pairs[-1]
    got = control_threshold(rec.packed("clean", pre), rec.packed("clean", post), T=rec.T,
                            null="exact", backend="numpy")
    assert manifest.fc["layer_pairs"]["clean"][-1]["threshold"]["z"] == got["z"]
    assert summary.threshold_z.tolist() == [e["threshold"]["z"] for c in CONDITIONS
                                            for e in manifest.fc["layer_pairs"][c]]
    # neuron table: one row per condition, layer and neuron, counts from the spikes
    neurons = pq.read_table(rec_copy / "fc" / "neurons.parquet").to_pandas()
    assert len(neurons) == len(CONDITIONS) * sum(la.n_neurons for la in rec.layers)
    layer = rec.layers[2]
    part = neurons[(neurons.condition == "uniform:0.2") & (neurons.layer == layer.name)]
    spikes = rec.spikes("uniform:0.2", layer.name)
    assert np.array_equal(part.spike_count.to_numpy(), spikes.sum(axis=1))
    assert np.allclose(part.rate.to_numpy(), spikes.mean(axis=1))
    c, y, x = layer.position(np.arange(layer.n_neurons))
    assert np.array_equal(part.channel.to_numpy(), c) and np.array_equal(part.x.to_numpy(), x)


def test_shift_null_top_k_receptive_field_and_calibration(rec_copy):
    rule = {"null": "shift", "n_shifts": 8, "min_shift": 40, "top_k": 5, "z": 2.5}
    summary = compute_run(rec_copy, conditions=["clean"], candidates="receptive-field",
                          calibrate=True, backend="numpy", threshold="normal", **rule)
    rec = fcgraph.record.open_recording(rec_copy)
    manifest = read_manifest(rec_copy)
    assert list(manifest.fc["edges"]) == ["clean"]
    table = edge_table(rec_copy, "clean")
    for row, entry in zip(summary.itertuples(), manifest.fc["layer_pairs"]["clean"], strict=True):
        pre, post = rec.layer(row.pre_layer), rec.layer(row.post_layer)
        cand = receptive_field(pre, post)
        assert (cand is not None) == (row.candidates == "receptive-field") == (len(post.shape) == 3)
        want, report = direct(rec, "clean", pre.name, post.name, candidates=cand, **rule)
        got = table[(table.pre_layer == pre.name) & (table.post_layer == post.name)]
        same_frames(got, want)
        assert got.groupby("post_idx").size().max(skipna=False) <= 5 if len(got) else True
        assert row.significant == report["significant"] >= row.edges == len(want)
        assert entry["calibration"]["tested"] == report["tested"]  # same pairs, reordered images
        assert entry["threshold"] == {"rule": "normal", "z": 2.5, "nominal_z": 2.5,
                                      "nominal_rate": pytest.approx(0.00621, rel=1e-3)}
        if pre.n_neurons <= 2048:  # the control recomputed directly (the largest pair skipped: time)
            cal = calibrate(rec.packed("clean", pre.name), rec.packed("clean", post.name),
                            T=rec.T, seed=0, backend="numpy", candidates=cand,
                            **{k: v for k, v in rule.items() if k != "top_k"})
            assert entry["calibration"]["false_edges"] == cal["false_edges"]
            assert row.false_edge_rate == pytest.approx(cal["false_edge_rate"], nan_ok=True)
        if cand is not None:  # every edge lies in the receptive field
            _, h1, w1 = pre.shape
            _, h2, w2 = post.shape
            s = h1 // h2
            _, y1, x1 = pre.position(got.pre_idx.to_numpy())
            _, y2, x2 = post.position(got.post_idx.to_numpy())
            assert (np.abs(y1 - s * y2) <= 1).all() and (np.abs(x1 - s * x2) <= 1).all()
            assert report["pairs"] == post.n_neurons * pre.shape[0] * 9 - _border_pairs(pre, post)
    assert summary.edges.sum() == len(table) > 0 and summary.candidates.eq("receptive-field").sum() == 4


def _border_pairs(pre: LayerInfo, post: LayerInfo) -> int:
    """Window positions that fall outside the pre layer, times channels, summed over post neurons."""
    c1, h1, w1 = pre.shape
    c2, h2, w2 = post.shape
    s = h1 // h2
    inside = sum(int(0 <= s * y - 1 + dy < h1 and 0 <= s * x - 1 + dx < w1)
                 for y in range(h2) for x in range(w2) for dy in range(3) for dx in range(3))
    return c1 * c2 * (h2 * w2 * 9 - inside)


def test_receptive_field_rule():
    pre, post = LayerInfo("a", 0, (2, 8, 8)), LayerInfo("b", 1, (3, 4, 4))
    block = receptive_field(pre, post)(0, post.n_neurons)
    assert block.shape == (pre.n_neurons, post.n_neurons)
    j = 2 * 16 + 1 * 4 + 2  # channel 2, y 1, x 2: stride 2 reads rows 1..3, columns 3..5
    c, y, x = pre.position(np.flatnonzero(block[:, j]))
    assert set(zip(y.tolist(), x.tolist(), strict=True)) == {(r, q) for r in (1, 2, 3) for q in (3, 4, 5)}
    assert sorted(set(c.tolist())) == [0, 1]
    corner = receptive_field(pre, post)(0, 1)[:, 0]  # (0, 0, 0): rows/columns -1..1, clipped
    assert corner.sum() == 2 * 4
    assert receptive_field(LayerInfo("a", 0, (2, 8, 8)), LayerInfo("d", 1, (10,))) is None
    assert receptive_field(LayerInfo("a", 0, (2, 8, 8)), LayerInfo("b", 1, (2, 3, 3))) is None


def test_layer_pairs_consecutive_and_feeders():
    layers = [LayerInfo("a", 0, (4,)), LayerInfo("b", 1, (4,), ("a",)),
              LayerInfo("c", 2, (4,), ("a", "b")), LayerInfo("d", 3, (4,), ("c",))]
    assert layer_pairs(layers) == [("a", "b"), ("b", "c"), ("c", "d")]
    assert layer_pairs(layers, "feeders") == [("a", "b"), ("a", "c"), ("b", "c"), ("c", "d")]


def test_resume_after_a_kill_recomputes_nothing_finished(rec_copy, tmp_path, tiny_recording):
    rule = {"null": "exact", "shift_unit": "1", "measure": "pearson", "backend": "numpy"}
    calls: list[tuple[str, str, str]] = []
    kill_at = [3]

    def killer(condition: str, pre: str, post: str) -> None:
        calls.append((condition, pre, post))
        if len(calls) == kill_at[0]:  # "killed" once the third pair of the first condition is saved
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compute_run(rec_copy, after_pair=killer, **rule)
    parts = sorted(p.name for p in (rec_copy / "fc" / ".parts" / "clean").iterdir())
    assert parts == ["000.json", "000.parquet", "001.json", "001.parquet", "002.json", "002.parquet"]
    assert not (rec_copy / "fc" / "edges").exists()
    saved = {p: p.stat().st_mtime_ns for p in (rec_copy / "fc" / ".parts" / "clean").iterdir()}

    calls.clear()
    kill_at[0] = -1
    resumed = compute_run(rec_copy, after_pair=killer, **rule)
    n_pairs = len(resumed) // len(CONDITIONS)
    assert resumed.resumed.tolist() == [True] * 3 + [False] * (2 * n_pairs - 3)
    assert len(calls) == 2 * n_pairs - 3
    assert all(p.stat().st_mtime_ns == t for p, t in saved.items() if p.suffix == ".json")
    assert not list((rec_copy / "fc" / ".parts" / "clean").glob("*.parquet"))  # assembled

    fresh = tmp_path / "fresh"
    shutil.copytree(tiny_recording, fresh)
    compute_run(fresh, **rule)
    for condition in CONDITIONS:
        same_frames(edge_table(rec_copy, condition), edge_table(fresh, condition))
    a, b = read_manifest(rec_copy).fc, read_manifest(fresh).fc
    strip = [[{k: v for k, v in e.items() if k != "seconds"} for e in pairs]
             for pairs in a["layer_pairs"].values()]
    assert strip == [[{k: v for k, v in e.items() if k != "seconds"} for e in pairs]
                     for pairs in b["layer_pairs"].values()]
    # a finished run is a no-op that reports every pair as resumed
    again = compute_run(rec_copy, **rule)
    assert again.resumed.all()


def test_other_settings_are_refused_until_restart(rec_copy):
    compute_run(rec_copy, conditions=["clean"], null="exact", backend="numpy")
    with pytest.raises(SettingsChanged, match=r"other settings \(z: 3.0 -> 4.0\).*--restart"):
        compute_run(rec_copy, conditions=["clean"], null="exact", z=4.0)
    # another condition with the same settings adds to the tables
    compute_run(rec_copy, conditions=["uniform:0.2"], null="exact", backend="numpy")
    assert set(read_manifest(rec_copy).fc["edges"]) == set(CONDITIONS)
    before = len(edge_table(rec_copy, "clean"))
    compute_run(rec_copy, conditions=["clean"], null="exact", z=4.0, backend="numpy", restart=True)
    manifest = read_manifest(rec_copy)
    assert manifest.fc["parameters"]["z"] == 4.0 and list(manifest.fc["edges"]) == ["clean"]
    assert not (rec_copy / "fc" / "edges" / "uniform_0.2.parquet").exists()
    after = edge_table(rec_copy, "clean")
    assert len(after) < before and (after.z >= 4.0).all()
    # a re-recorded spike file is not silently mixed in
    data = json.loads((rec_copy / "manifest.json").read_text())
    data["recording"]["conditions"]["clean"]["layers"]["fc1.sn"]["sha256"] = "0" * 64
    (rec_copy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(FcgraphError, match="changed since"):
        compute_run(rec_copy, conditions=["clean"], null="exact", z=4.0)


def test_fdr_and_dense_matrices(rec_copy):
    compute_run(rec_copy, conditions=["clean"], null="exact", fdr=0.05, dense=True, backend="numpy")
    rec = fcgraph.record.open_recording(rec_copy)
    table = edge_table(rec_copy, "clean")
    assert {"p", "q"} <= set(table.columns) and (table.q <= 0.05).all()
    pre, post = rec.layers[-2].name, rec.layers[-1].name
    want, _ = direct(rec, "clean", pre, post, null="exact", fdr=0.05)
    same_frames(table[(table.pre_layer == pre) & (table.post_layer == post)], want)
    folder = rec_copy / read_manifest(rec_copy).fc["dense"]["clean"]
    a, b = rec.spikes("clean", pre), rec.spikes("clean", post)
    assert np.array_equal(np.load(folder / f"{pre}__{post}.cofire.npy"), cofire(a, b))
    value = np.load(folder / f"{pre}__{post}.value.npy")
    np.testing.assert_allclose(value, sttc(a, b), rtol=1e-6, atol=1e-7)
    z = np.load(folder / f"{pre}__{post}.z.npy")
    assert z.shape == (a.shape[0], b.shape[0]) and z.dtype == np.float32


def test_bad_settings_are_one_line_errors(rec_copy):
    for settings, message in [({"measure": "phi"}, "unknown measure"), ({"null": "gauss"}, "unknown null"),
                              ({"shift_unit": "2"}, "shift unit"), ({"fdr": 1.5}, "fdr must"),
                              ({"pairs": "all"}, "unknown pairs"), ({"candidates": "rf"}, "candidates"),
                              ({"threshold": "exact"}, "unknown threshold"),
                              ({"null": "shift", "min_shift": 10_000}, "no shift of at least"),
                              ({"conditions": ["fgsm:0.1"]}, "no condition 'fgsm:0.1'"),
                              ({"backend": "tpu"}, "unknown backend")]:
        with pytest.raises(FcgraphError, match=message) as info:
            compute_run(rec_copy, **settings)
        assert "\n" not in str(info.value)
    with pytest.raises(FcgraphError, match="does not exist"):
        compute_run(rec_copy / "nope")
    assert FcParams.create(null="exact", n_shifts=7).n_shifts is None


def test_control_threshold_calibrated_on_an_independent_draw(rec_copy):
    compute_run(rec_copy, conditions=["clean"], null="exact", calibrate=True, control_draws=2,
                backend="numpy")
    rec = fcgraph.record.open_recording(rec_copy)
    manifest = read_manifest(rec_copy)
    assert manifest.fc["parameters"]["threshold"] == "control"
    assert manifest.fc["parameters"]["control_draws"] == 2
    for entry in manifest.fc["layer_pairs"]["clean"][-3:]:
        threshold, cal = entry["threshold"], entry["calibration"]
        assert threshold["control_draws"] == 2 and cal["draw"] == 0  # draws 1, 2; checked on 0
        assert cal["nominal_rate"] == threshold["nominal_rate"] == entry["nominal_rate"]
        a, b = rec.packed("clean", entry["pre_layer"]), rec.packed("clean", entry["post_layer"])
        want = calibrate(a, b, T=rec.T, null="exact", z=threshold["z"], backend="numpy")
        assert cal["false_edges"] == want["false_edges"] and cal["tested"] == want["tested"]
        got = control_threshold(a, b, T=rec.T, null="exact", draws=2, backend="numpy")
        assert got["z"] == threshold["z"] and got["tested"] == threshold["control_tested"]


def test_a_part_counts_only_while_its_key_matches(rec_copy):
    rule = {"null": "exact", "backend": "numpy"}
    compute_run(rec_copy, conditions=["clean"], **rule)
    part = rec_copy / "fc" / ".parts" / "clean" / "000.json"
    saved = json.loads(part.read_text())
    assert len(saved["key"]) == 64  # fcgraph.parts: the SHA-256 of format, settings, inputs
    # a part saved before parts had keys, otherwise consistent: still reused
    part.write_text(json.dumps({k: v for k, v in saved.items() if k != "key"}))
    assert compute_run(rec_copy, conditions=["clean"], **rule).resumed.all()
    # a part whose key is not the one its inputs give now: refused, not silently mixed in
    part.write_text(json.dumps({**saved, "key": "0" * 64}))
    with pytest.raises(FcgraphError, match="computed from other inputs"):
        compute_run(rec_copy, conditions=["clean"], **rule)
