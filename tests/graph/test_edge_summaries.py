"""Degrees and layer-pair totals count every significant edge, whatever subset the graph holds.

Checked against plain pandas group-bys on the run's Parquet tables (a recording of the tiny
model, a planted run, a synthetic run with silent neurons, the hand-written run of
test_edge_states), and in the graph, where the hand-written run is loaded as a top-1 sample
whose own counts differ from the files' (``hubs`` and ``layer_summary`` must give the files'
answer, not the sample's).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fcgraph.analysis.synthetic import make_planted_run
from fcgraph.contract import read_manifest
from fcgraph.fc.edge_states import STATE_CODES, ensure_edge_states
from fcgraph.fc.edge_summaries import DEGREE_COLUMNS, LOSS_COLUMNS, PAIR_COLUMNS
from tests.helpers.known_states import CLEAN, write_known_run


def reference(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Degrees and pair totals of every condition, by pandas group-bys from the definitions."""
    manifest = read_manifest(root)
    order = {la.name: la.order for la in manifest.layers}
    pairs = sorted(manifest.allowed_pairs(), key=lambda p: (order[p[0]], order[p[1]]))
    degree_parts, pair_parts = [], []
    for condition, path in manifest.edge_files(root).items():
        edges = pd.read_parquet(path)
        sides = []
        for side, layer, idx in (("out", "pre_layer", "pre_idx"), ("in", "post_layer", "post_idx")):
            g = edges.groupby([layer, idx]).z.agg(["size", "sum", "max"])
            g.index.names = ["layer", "idx"]
            sides.append(g.rename(columns={"size": f"{side}_degree", "sum": f"{side}_sum_z",
                                           "max": f"{side}_max_z"}))
        deg = pd.concat(sides, axis=1).reset_index()
        for side in ("in", "out"):
            deg[f"{side}_degree"] = deg[f"{side}_degree"].fillna(0).astype(np.int64)
            deg[f"{side}_sum_z"] = deg[f"{side}_sum_z"].fillna(0.0)
        deg["condition"] = condition
        deg["order"] = deg.layer.map(order)
        degree_parts.append(deg.sort_values(["order", "idx"])[DEGREE_COLUMNS])
        for pre, post in pairs:
            mine = edges[(edges.pre_layer == pre) & (edges.post_layer == post)]
            pair_parts.append({
                "condition": condition, "pre_layer": pre, "post_layer": post,
                "edges": len(mine), "connected_pre": mine.pre_idx.nunique(),
                "connected_post": mine.post_idx.nunique(),
                "mean_z": mine.z.mean() if len(mine) else np.nan,
                "mean_value": mine.value.mean() if len(mine) else np.nan})
    return (pd.concat(degree_parts, ignore_index=True),
            pd.DataFrame(pair_parts, columns=PAIR_COLUMNS))


def reference_losses(root: Path) -> pd.DataFrame:
    """Per other condition and neuron: the largest z of its first-condition in- / out-edges
    whose state under that condition is not kept (pandas group-bys)."""
    manifest = read_manifest(root)
    order = {la.name: la.order for la in manifest.layers}
    baseline, *others = manifest.edge_files(root)
    edges = pd.read_parquet(manifest.edge_files(root)[baseline])
    codes = ensure_edge_states(root).codes(baseline)
    parts = []
    for condition in others:
        lost = edges[codes[condition] != STATE_CODES["kept"]]
        sides = []
        for side, layer, idx in (("out", "pre_layer", "pre_idx"), ("in", "post_layer", "post_idx")):
            g = lost.groupby([layer, idx]).z.max().rename(f"{side}_lost_max_z")
            g.index.names = ["layer", "idx"]
            sides.append(g)
        part = pd.concat(sides, axis=1).reset_index()
        part["baseline"], part["condition"] = baseline, condition
        part["order"] = part.layer.map(order)
        parts.append(part.sort_values(["order", "idx"])[LOSS_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def assert_matches_reference(root: Path, *, losses_expected: bool = True) -> None:
    states = ensure_edge_states(root)
    want_degrees, want_pairs = reference(root)
    got = states.degrees()
    assert len(got) == len(want_degrees) > 0
    pd.testing.assert_frame_equal(got, want_degrees, check_dtype=False, rtol=1e-12)
    pd.testing.assert_frame_equal(states.pairs(), want_pairs, check_dtype=False, rtol=1e-12)
    losses, want_losses = states.losses(), reference_losses(root)
    assert len(losses) == len(want_losses)
    assert (len(losses) > 0) == losses_expected
    pd.testing.assert_frame_equal(losses, want_losses, check_dtype=False, rtol=1e-12)


def test_summaries_of_a_recording_match_the_pandas_reference(tiny_run, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(tiny_run.fc, root)
    assert (root / "fc" / "states" / "degrees.parquet").exists()  # written beside the states
    assert_matches_reference(root)


def test_summaries_of_a_planted_run_match_the_pandas_reference(tmp_path):
    make_planted_run(tmp_path / "planted", n_images=240, sizes=(6, 8, 10, 12))
    assert_matches_reference(tmp_path / "planted")


def test_summaries_of_a_synthetic_run_with_feeders_match_the_pandas_reference(tmp_path):
    from fcgraph.synthetic import make_synthetic_run

    root = tmp_path / "synthetic"
    make_synthetic_run(root, "syn", conditions=("clean", "uniform:0.2"), silent=0.1)
    assert_matches_reference(root)


def test_summaries_are_recomputed_when_an_edge_table_changes(known_run):
    before = ensure_edge_states(known_run).degrees()
    write_known_run(known_run, read_manifest(known_run).run_id, uniform=CLEAN)
    after = ensure_edge_states(known_run)
    assert not before.equals(after.degrees())
    assert_matches_reference(known_run, losses_expected=False)  # every clean edge kept now


def test_hubs_and_layer_summary_count_every_edge_of_a_top_k_sample(driver, graph, known_run):
    from fcgraph.graph import queries
    from fcgraph.graph.ingest import delete_run, ingest_run

    run_id = read_manifest(known_run).run_id
    want_degrees, want_pairs = reference(known_run)
    try:
        ingest_run(graph, known_run, top_k=1)
        # the control: the sample's own in-degrees (one per neuron) are not the files'
        loaded = driver.execute_query(
            "MATCH (:Neuron {run_id: $r})-[f:FC {condition: 'clean'}]->(b) "
            "RETURN b.idx AS idx, b.layer AS layer, count(f) AS n ORDER BY layer, idx",
            r=run_id).records
        assert {r["n"] for r in loaded} == {1}
        for condition in ("clean", "uniform:0.1"):
            for direction in ("in", "out"):
                hubs = queries.hubs(graph, run_id, condition, direction=direction, top=10)
                ref = want_degrees[(want_degrees.condition == condition)
                                   & (want_degrees[f"{direction}_degree"] > 0)]
                ref = ref.assign(uid=[f"{run_id}/{la}/{i}" for la, i in zip(ref.layer, ref.idx,
                                                                             strict=True)])
                ref = ref.sort_values(["layer", f"{direction}_degree", f"{direction}_sum_z", "idx"],
                                      ascending=[True, False, False, True],
                                      key=lambda c: c.map({"in": 0, "h": 1, "out": 2})
                                      if c.name == "layer" else c)
                assert list(hubs.uid) == list(ref.uid)
                assert list(hubs.degree) == list(ref[f"{direction}_degree"])
                assert list(hubs.sum_z) == pytest.approx(list(ref[f"{direction}_sum_z"]))
                assert list(hubs.max_z) == pytest.approx(list(ref[f"{direction}_max_z"]))
                assert list(hubs.mean_z) == pytest.approx(
                    list(ref[f"{direction}_sum_z"] / ref[f"{direction}_degree"]))
        inward = queries.hubs(graph, run_id, direction="in", layer="h")
        assert list(zip(inward.uid, inward.degree, inward.sum_z, strict=True)) == [
            (f"{run_id}/h/0", 2, 17.0), (f"{run_id}/h/1", 1, 5.0)]  # loaded: 1 and 1
        summary = queries.layer_summary(graph, run_id)
        got = summary[PAIR_COLUMNS].sort_values(["pre_layer", "condition"]).reset_index(drop=True)
        want = want_pairs.sort_values(["pre_layer", "condition"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        assert list(summary.edges) == [3, 3, 3, 2]  # the top-1 sample holds 2 per pair
        assert not summary.attrs.get("warning")  # nothing to warn about: counted from the files
    finally:
        delete_run(graph, run_id)


# ----------------------------------------------------------------------------- lost pathways

def reference_lost_pathways(root: Path, condition: str, baseline: str = "clean", *,
                            pre_layer: str | None = None, min_z: float | None = None,
                            limit: int = 100) -> list[tuple]:
    """Every broken two-edge baseline pathway, listed in full and ranked (score desc, uids)."""
    manifest = read_manifest(root)
    run_id = manifest.run_id
    edges = pd.read_parquet(manifest.edge_files(root)[baseline])
    codes = ensure_edge_states(root).codes(baseline)[condition]
    names = {code: name for name, code in STATE_CODES.items()}
    edges["state"] = [names[c] for c in codes]
    if min_z is not None:
        edges = edges[edges.z >= min_z]
    edges["pre_uid"] = run_id + "/" + edges.pre_layer + "/" + edges.pre_idx.astype(str)
    edges["post_uid"] = run_id + "/" + edges.post_layer + "/" + edges.post_idx.astype(str)
    pairs = manifest.allowed_pairs()
    first = edges[[(a, b) in pairs for a, b in zip(edges.pre_layer, edges.post_layer, strict=True)]]
    if pre_layer is not None:
        first = first[first.pre_layer == pre_layer]
    paths = first.merge(edges, left_on="post_uid", right_on="pre_uid", suffixes=("_1", "_2"))
    paths = paths[[(a, b) in pairs for a, b in zip(paths.pre_layer_2, paths.post_layer_2,
                                                    strict=True)]]
    paths = paths[(paths.state_1 != "kept") | (paths.state_2 != "kept")]
    rows = sorted(((-(z1 + z2), p, m, q, s1, s2) for p, m, q, z1, z2, s1, s2 in zip(
        paths.pre_uid_1, paths.post_uid_1, paths.post_uid_2, paths.z_1, paths.z_2, paths.state_1,
        paths.state_2, strict=True)))
    return [(p, m, q, -neg, s1, s2) for neg, p, m, q, s1, s2 in rows[:limit]]


def test_lost_pathways_is_the_exact_top_of_every_broken_pathway(driver, graph, tmp_path):
    """The query expands only the most promising mid neurons and edges; its answer must equal
    the ranking of every broken pathway, for limits small enough that pruning decides."""
    from fcgraph.graph import queries
    from fcgraph.graph.ingest import delete_run, ingest_run
    from fcgraph.synthetic import make_synthetic_run

    root = tmp_path / "dense"
    run_id = f"lp-{tmp_path.name[-12:]}"
    make_synthetic_run(root, run_id, conditions=("clean", "uniform:0.2"), fan_in=12, silent=0.1)
    try:
        ingest_run(graph, root)
        # clean as baseline: each mid neuron's strongest edges are read from its loss lists;
        # uniform:0.2 as baseline: from its edges
        for condition, baseline in (("uniform:0.2", "clean"), ("clean", "uniform:0.2")):
            for options in ({"limit": 1}, {"limit": 7}, {"limit": 60},
                            {"limit": 15, "pre_layer": "stage1.sn"}, {"limit": 15, "min_z": 4.0}):
                check_lost_pathways(graph, root, run_id, condition, baseline=baseline, **options)
        # control: without the loss lists, the clean-baseline answer must change
        driver.execute_query("MATCH (n:Neuron {run_id: $r}) REMOVE n.in_lost_max_z, "
                             "n.out_lost_max_z", r=run_id)
        blind = queries.lost_pathways(graph, run_id, "uniform:0.2", limit=15)
        assert len(blind) < 15 or list(blind.mid_uid) != [
            w[1] for w in reference_lost_pathways(root, "uniform:0.2", limit=15)]
    finally:
        delete_run(graph, run_id)


def check_lost_pathways(graph, root: Path, run_id: str, condition: str, **options) -> None:
    from fcgraph.graph import queries

    got = queries.lost_pathways(graph, run_id, condition, **options)
    want = reference_lost_pathways(root, condition, **options)
    assert len(want) == options["limit"]
    assert list(zip(got.pre_uid, got.mid_uid, got.post_uid, strict=True)) == [
        w[:3] for w in want], options
    assert list(got.score) == pytest.approx([w[3] for w in want])
    assert list(zip(got.first_state, got.second_state, strict=True)) == [w[4:] for w in want]

