"""significant_edges and calibrate: planted edges, false-positive rates, report, top_k, fdr."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from fcgraph.contract import EDGE_COLUMNS, LayerInfo, RunManifest, parse_condition
from fcgraph.errors import FcgraphError
from fcgraph.fc import (
    SpikeMatrix,
    calibrate,
    cofire,
    edges_to_arrow,
    exact_null,
    normal_upper_tail,
    significant_edges,
    sttc,
)
from fcgraph.validate import validate_edge_file

T = 8


def planted(seed: int = 0, n_pre: int = 60, n_post: int = 40, M: int = 300, second: int = 0):
    """Post neuron j copies ~40% of its driver's spikes (20% more jittered by a bin, the rest
    deleted) plus independent noise; the first ``second`` post neurons also copy 25% of the
    spikes of a second driver. Returns (pre, post, drivers)."""
    rng = np.random.default_rng(seed)
    L = T * M
    pre = rng.random((n_pre, L)) < rng.uniform(0.05, 0.2, (n_pre, 1))
    drivers = rng.choice(n_pre, n_post, replace=False)
    kept = pre[drivers] & (rng.random((n_post, L)) < 0.4)
    jittered = np.roll(pre[drivers] & (rng.random((n_post, L)) < 0.2), 1, axis=1)
    post = kept | jittered | (rng.random((n_post, L)) < 0.1)
    others = np.roll(drivers[:second], 1)
    post[:second] |= pre[others] & (rng.random((second, L)) < 0.25)
    return pre, post, drivers


def pairs(pre_idx, post_idx) -> set[tuple[int, int]]:
    """The set of (pre, post) index pairs."""
    return set(zip(np.asarray(pre_idx).tolist(), np.asarray(post_idx).tolist(), strict=True))


def rhythm(rng: np.random.Generator, n: int, M: int) -> np.ndarray:
    """Silent at the first step of every image, then a period-2 rhythm; independent otherwise."""
    rate = np.zeros(T)
    rate[1::2], rate[2::2] = 0.3, 0.25
    return (rng.random((n, M, T)) < rate).reshape(n, M * T)


@pytest.mark.parametrize("kw", [{"null": "exact"}, {"null": "shift"}, {"null": "exact", "shift_unit": 1},
                                {"measure": "pearson"}, {"measure": "sttc", "dt": 1}])
def test_planted_dependencies_are_recovered(kw: dict) -> None:
    pre, post, drivers = planted()
    edges, report = significant_edges(pre, post, T=T, **kw)
    found = pairs(edges.pre_idx, edges.post_idx)
    truth = pairs(drivers, range(len(drivers)))
    assert len(found & truth) / len(truth) >= 0.95
    assert report["significant"] == len(edges) <= len(truth) + 10


def test_edge_statistics_are_the_documented_ones() -> None:
    pre, post, _ = planted(seed=1)
    edges, _ = significant_edges(SpikeMatrix.from_bool(pre), post, T=T, tile=7)
    c = cofire(pre, post)
    mean, sd = exact_null(pre, post, T=T)
    s = sttc(pre, post)
    i, j = edges.pre_idx.to_numpy(), edges.post_idx.to_numpy()
    assert np.array_equal(edges.cofire.to_numpy(), c[i, j])
    assert np.allclose(edges.null_mean, mean[i, j]) and np.allclose(edges.null_sd, sd[i, j])
    assert np.allclose(edges.z, (c[i, j] - mean[i, j]) / sd[i, j])
    assert np.allclose(edges.value, s[i, j])
    assert list(zip(j, i, strict=True)) == sorted(zip(j, i, strict=True))  # by post, then pre


def test_independent_trains_false_positive_rate_near_nominal() -> None:
    rng = np.random.default_rng(2)
    L = 3000
    pre = rng.random((80, L)) < rng.uniform(0.3, 0.5, (80, 1))
    post = rng.random((80, L)) < rng.uniform(0.3, 0.5, (80, 1))
    for null in ("exact", "shift"):
        _, report = significant_edges(pre, post, T=T, null=null)
        nominal = normal_upper_tail(3.0)
        assert report["significant"] / report["tested"] < 3 * nominal
        assert report["negative_tail"] / report["tested"] < 3 * nominal


def test_shared_rhythm_biases_only_any_offset_shifts() -> None:
    rng = np.random.default_rng(0)
    pre, post = rhythm(rng, 80, 400), rhythm(rng, 80, 400)
    rates = {}
    for name, kw in {"images_exact": {"null": "exact"}, "images_shift": {"null": "shift"},
                     "any_exact": {"null": "exact", "shift_unit": 1},
                     "any_shift": {"null": "shift", "shift_unit": 1}}.items():
        _, report = significant_edges(pre, post, T=T, **kw)
        rates[name] = report["significant"] / report["tested"]
    nominal = normal_upper_tail(3.0)
    assert rates["images_exact"] < 3 * nominal and rates["images_shift"] < 3 * nominal
    assert rates["any_exact"] > 7 * nominal and rates["any_shift"] > 7 * nominal


def test_report_counts_on_constructed_cases() -> None:
    rng = np.random.default_rng(4)
    L = T * 100
    base = rng.random((4, L)) < 0.3
    pre = np.vstack([base, np.zeros((1, L), bool), np.ones((1, L), bool)])  # silent, always on
    sparse = np.zeros((1, L), bool)
    sparse[0, :5] = True  # 5 spikes: untested at min_spikes = 10
    anti = ~base[:1] & (rng.random((1, L)) < 0.6)  # fires only when pre 0 is silent
    post = np.vstack([rng.random((3, L)) < 0.3, sparse, anti])
    edges, report = significant_edges(pre, post, T=T)
    assert report["pairs"] == 30
    assert report["untested_pre"] == 1 and report["untested_pre_idx"].tolist() == [4]
    assert report["untested_post"] == 1 and report["untested_post_idx"].tolist() == [3]
    assert report["tested"] == 5 * 4 and report["untested"] == 10
    assert report["zero_spread"] == 4  # always-on pre 5 against the 4 tested post neurons
    assert report["nonfinite"] == 0
    assert report["negative_tail"] >= 1
    every, _ = significant_edges(pre, post, T=T, z=-np.inf)  # every valid pair
    anti_z = every.z[(every.pre_idx == 0) & (every.post_idx == 4)]
    assert len(anti_z) == 1 and anti_z.iloc[0] <= -3
    assert not ((edges.pre_idx == 0) & (edges.post_idx == 4)).any()
    assert report["post_in_degree"].shape == (5,) and report["post_in_degree"].sum() == len(edges)
    assert report["nominal_rate"] == pytest.approx(0.0013499, rel=1e-4)
    assert report["pre_spike_count"].tolist() == pre.sum(axis=1).tolist()


@pytest.mark.parametrize("kw", [{}, {"null": "shift"}, {"fdr": 0.2}, {"top_k": 2},
                                {"measure": "sttc", "dt": 1}, {"measure": "pearson"}])
def test_untested_neurons_left_out_of_the_products_change_nothing(kw: dict) -> None:
    """Untested neurons (scattered, whole tiles of them too) are skipped in the products; the
    edges and every count equal those of the full computation (``dense`` computes all pairs)."""
    pre, post, _ = planted(seed=6, n_pre=50, n_post=45)
    rng = np.random.default_rng(6)
    for x, rows in ((pre, rng.choice(50, 20, replace=False)), (post, np.r_[0:12, 30, 31, 44])):
        x[rows] = False
        x[rows, 3::500] = True  # 5 spikes: untested
    cand = rng.random((50, 45)) < 0.7
    sunk = []
    compact, rep_c = significant_edges(pre, post, T=T, tile=6, candidates=cand,
                                       sink=sunk.append if not kw else None, **kw)
    if not kw:  # streamed: every span calls the sink, in order
        compact = pd.concat([t.to_pandas() for t in sunk], ignore_index=True)
        assert len(sunk) == -(-(45 - 15) // 6)
    full, rep_f = significant_edges(pre, post, T=T, tile=6, candidates=cand, dense={}, **kw)
    assert rep_c["untested_post"] == 15 and rep_c["untested_pre"] == 20 and len(full) >= 10
    pd.testing.assert_frame_equal(compact.reset_index(drop=True), full.reset_index(drop=True),
                                  check_dtype=False, check_exact=True)
    for key in ("pairs", "tested", "untested", "zero_spread", "nonfinite", "negative_tail",
                "significant", "edges"):
        assert rep_c[key] == rep_f[key], key
    assert np.array_equal(rep_c["post_in_degree"], rep_f["post_in_degree"])


def test_min_spikes_zero_counts_silent_pairs_as_zero_spread() -> None:
    a = np.zeros((2, 16), bool)
    a[1, ::3] = True
    _, report = significant_edges(a, a, T=4, min_spikes=0)
    assert report["tested"] == 4 and report["zero_spread"] == 3


def test_top_k_keeps_the_strongest_in_edges_and_reports_degrees() -> None:
    pre, post, _ = planted(seed=3, second=10)
    full, report_full = significant_edges(pre, post, T=T)
    cut, report = significant_edges(pre, post, T=T, top_k=1, tile=16)
    assert report["significant"] == report_full["significant"] == len(full)
    assert np.array_equal(report["post_in_degree"], report_full["post_in_degree"])
    assert report["edges"] == len(cut) == int((report_full["post_in_degree"] > 0).sum())
    best = full.sort_values(["post_idx", "z"], ascending=[True, False]).groupby("post_idx").head(1)
    assert pairs(cut.pre_idx, cut.post_idx) == pairs(best.pre_idx, best.post_idx)
    assert (report_full["post_in_degree"] > 1).any()


def test_fdr_normal_pvalues_bh() -> None:
    from scipy.stats import false_discovery_control

    pre, post, _ = planted(seed=5, n_pre=30, n_post=20)
    edges, report = significant_edges(pre, post, T=T, fdr=0.05, min_spikes=0)
    all_edges, _ = significant_edges(pre, post, T=T, z=-np.inf, min_spikes=0)
    p = normal_upper_tail(all_edges.z.to_numpy())
    q = false_discovery_control(p, method="bh")
    keep = q <= 0.05
    assert report["tested"] == len(all_edges) == 600
    assert pairs(edges.pre_idx, edges.post_idx) == pairs(all_edges.pre_idx[keep],
                                                         all_edges.post_idx[keep])
    assert np.allclose(np.sort(edges.q), np.sort(q[keep]))
    assert np.allclose(np.sort(edges.p), np.sort(p[keep]))
    assert list(edges.columns[-2:]) == ["p", "q"]


def test_fdr_with_shift_null_uses_empirical_pvalues() -> None:
    pre, post, drivers = planted(seed=6, n_pre=10, n_post=5)
    edges, report = significant_edges(pre, post, T=T, null="shift", n_shifts=199, fdr=0.05,
                                      min_shift=8)
    assert set(edges.p.round(12)) <= {round(1 / 200, 12)}  # never exceeded by any shift
    assert pairs(edges.pre_idx, edges.post_idx) == pairs(drivers, range(5))
    assert (edges.q <= 0.05).all() and report["significant"] == 5


def test_edge_table_passes_the_graph_validator(tmp_path: Path) -> None:
    pre, post, _ = planted(seed=7, n_pre=16, n_post=12)
    edges, _ = significant_edges(pre, post, T=T, pre_layer="sn1", post_layer="sn2",
                                 run_id="r1", condition="uniform:0.1", fdr=0.1)
    assert list(edges.columns) == [*EDGE_COLUMNS, "p", "q"]
    assert [str(t) for t in edges.dtypes[:11]] == ["string", "string", "string", "int64", "string",
                                                   "int64", "int64", "float64", "float64", "float64",
                                                   "float64"]
    assert np.isfinite(edges[["value", "null_mean", "null_sd", "z", "p", "q"]].to_numpy()).all()
    assert (edges.null_sd > 0).all() and len(edges) > 0
    table = edges_to_arrow(edges)
    path = tmp_path / "edges.parquet"
    pq.write_table(table, path)
    manifest = RunManifest(run_id="r1", layers=[LayerInfo("sn1", 0, (16,)), LayerInfo("sn2", 1, (12,))],
                           conditions=[parse_condition("uniform:0.1")])
    summary = validate_edge_file(path, manifest, "uniform:0.1")
    assert summary.rows == len(edges)
    empty, _ = significant_edges(pre, post, T=T, z=1e9)
    assert len(empty) == 0 and list(empty.columns) == list(EDGE_COLUMNS)
    assert edges_to_arrow(empty).schema.names == list(EDGE_COLUMNS)


def test_calibrate_on_independent_control() -> None:
    pre, post, _ = planted(seed=8)
    result = calibrate(pre, post, T=T, seed=1)
    order = result["image_order"]
    assert sorted(order.tolist()) == list(range(300)) and not (order == np.arange(300)).any()
    assert result["nominal_rate"] == pytest.approx(0.00135, rel=1e-2)
    assert result["false_edges"] <= 12  # 2400 pairs, 3.2 expected; the planted pairs are gone
    assert result["false_edge_rate"] == result["false_edges"] / result["tested"]
    with_fdr = calibrate(pre, post, T=T, fdr=0.05)
    assert with_fdr["nominal_rate"] is None


def test_bad_arguments() -> None:
    a = np.ones((2, 16), bool)
    for kw in ({"T": 3}, {"T": 4, "measure": "x"}, {"T": 4, "null": "x"}, {"T": 4, "fdr": 1.5},
               {"T": 4, "shift_unit": 2}, {"T": 4, "measure": "pearson", "dt": 1}):
        with pytest.raises(FcgraphError):
            significant_edges(a, a, **kw)


def test_torch_backend_matches_numpy() -> None:
    pytest.importorskip("torch")
    pre, post, _ = planted(seed=9, n_pre=20, n_post=12, M=50)
    for kw in ({"null": "exact"}, {"null": "shift", "fdr": 0.2}):
        ref, rep_ref = significant_edges(pre, post, T=T, **kw)
        got, rep = significant_edges(pre, post, T=T, backend="torch:cpu", **kw)
        pd.testing.assert_frame_equal(ref, got)
        assert rep["tested"] == rep_ref["tested"] and rep["params"]["backend"] == "torch:cpu"
