"""Edge states (kept / weakened / silenced / gained) are exact over every significant edge.

Checked three ways: against a plain pandas computation on the run's Parquet tables (a real
recording of the tiny model, a planted run), on a hand-written run whose every state is known,
and in the graph, where the hand-written run is loaded as a top-1 sample that would give a
different answer if the queries counted loaded edges (kept 1 instead of 4).
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fcgraph.analysis.synthetic import make_planted_run
from fcgraph.contract import read_manifest, write_manifest
from fcgraph.errors import FcgraphError
from fcgraph.fc.edge_states import (
    COUNT_COLUMNS,
    STATE_CODES,
    edge_state_counts,
    ensure_edge_states,
)
from tests.helpers.cli import invoke
from tests.helpers.known_states import UNIFORM, write_known_run

KEY = ["pre_layer", "pre_idx", "post_layer", "post_idx"]


# ----------------------------------------------------------------------------- the reference

def reference_counts(root: Path, baseline: str, condition: str) -> pd.DataFrame:
    """Edge states by pandas merges on the Parquet tables, written from the definitions."""
    manifest = read_manifest(root)
    files = manifest.edge_files(root)
    base = pd.read_parquet(files[baseline], columns=KEY)
    cond = pd.read_parquet(files[condition], columns=KEY)
    neurons = pd.read_parquet(root / manifest.fc["neurons"])
    if "condition" in neurons:
        neurons = neurons[neurons.condition == condition]
    floor = manifest.fc.get("parameters", {}).get("min_spikes") or 0
    tested = {(r.layer, r.idx) for r in neurons.itertuples() if r.spike_count >= floor}
    merged = base.merge(cond.assign(matched=1), on=KEY, how="left")
    state = []
    for r in merged.itertuples():
        if r.matched == 1:
            state.append("kept")
        elif (r.pre_layer, r.pre_idx) in tested and (r.post_layer, r.post_idx) in tested:
            state.append("weakened")
        else:
            state.append("silenced")
    merged["state"] = state
    rows = []
    orders = {la.name: la.order for la in manifest.layers}
    for pre, post in sorted(manifest.allowed_pairs(), key=lambda p: (orders[p[0]], orders[p[1]])):
        mine = merged[(merged.pre_layer == pre) & (merged.post_layer == post)]
        n_cond = int(((cond.pre_layer == pre) & (cond.post_layer == post)).sum())
        counts = {s: int((mine.state == s).sum()) for s in STATE_CODES}
        rows.append({"pre_layer": pre, "post_layer": post, "baseline_edges": len(mine),
                     "condition_edges": n_cond, **counts,
                     "gained": n_cond - counts["kept"]})
    return pd.DataFrame(rows)


def assert_matches_reference(root: Path) -> int:
    """Every ordered pair of conditions; returns how many edges were lost in all."""
    names = list(read_manifest(root).edge_files(root))
    lost = 0
    for baseline, condition in itertools.product(names, names):
        got = edge_state_counts(root, condition, baseline)
        want = reference_counts(root, baseline, condition)
        cols = list(want.columns)
        pd.testing.assert_frame_equal(got[cols], want, check_dtype=False)
        assert list(got.lost) == list(got.weakened + got.silenced)
        lost += int(got.lost.sum())
        if baseline == condition:
            assert (got.kept == got.baseline_edges).all() and not got.gained.any()
    return lost


def test_states_of_a_recording_match_the_pandas_reference(tiny_run, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(tiny_run.fc, root)
    assert (root / "fc" / "states" / "counts.parquet").exists()  # fc wrote them beside its edges
    assert assert_matches_reference(root) > 0


def test_states_of_a_planted_run_match_the_pandas_reference(tmp_path):
    make_planted_run(tmp_path / "planted", n_images=240, sizes=(6, 8, 10, 12))
    assert assert_matches_reference(tmp_path / "planted") > 0


def test_states_of_a_synthetic_run_with_silent_neurons_match_the_pandas_reference(tmp_path):
    from fcgraph.synthetic import make_synthetic_run

    root = tmp_path / "synthetic"
    make_synthetic_run(root, "syn", conditions=("clean", "uniform:0.2", "gauss:0.1"), silent=0.1)
    assert assert_matches_reference(root) > 0
    counts = edge_state_counts(root, "uniform:0.2")
    assert counts.silenced.sum() > 0 and counts.weakened.sum() > 0 and counts.gained.sum() > 0


# ----------------------------------------------------------------------------- known states
# (the run: tests/helpers/known_states.py)

# (pre_layer, post_layer, baseline_edges, condition_edges, kept, weakened, silenced, gained)
KNOWN = [("in", "h", 3, 3, 2, 0, 1, 1), ("h", "out", 3, 2, 2, 1, 0, 0)]
KNOWN_REVERSE = [("in", "h", 3, 3, 2, 1, 0, 1), ("h", "out", 2, 3, 2, 0, 0, 1)]


def counts_tuples(df: pd.DataFrame) -> list[tuple]:
    cols = ["pre_layer", "post_layer", "baseline_edges", "condition_edges", "kept", "weakened",
            "silenced", "gained"]
    return [tuple(r) for r in df[cols].itertuples(index=False)]


def test_known_states_per_layer_pair(tmp_path):
    root = write_known_run(tmp_path / "known", "known")
    got = edge_state_counts(root, "uniform:0.1")
    assert list(got.columns) == COUNT_COLUMNS
    assert counts_tuples(got) == KNOWN
    assert list(got.lost_fraction) == pytest.approx([1 / 3, 1 / 3])
    assert list(got.jaccard) == pytest.approx([2 / 4, 2 / 3])
    assert got.exact.all()
    assert counts_tuples(edge_state_counts(root, "clean", baseline="uniform:0.1")) == KNOWN_REVERSE
    assert_matches_reference(root)
    codes = ensure_edge_states(root).codes("clean")["uniform:0.1"]
    assert list(codes) == [0, 0, 2, 0, 1, 0]  # in the edge table's row order


def test_states_follow_their_inputs_and_refuse_unknown_conditions(tmp_path):
    root = write_known_run(tmp_path / "known", "known")
    first = ensure_edge_states(root)
    assert ensure_edge_states(root).key == first.key  # unchanged inputs: not recomputed
    write_known_run(root, "known", uniform=UNIFORM + [("h", 0, "out", 1, 3.1)])  # e4 now kept
    again = ensure_edge_states(root)
    assert again.key != first.key
    assert [r[5] for r in counts_tuples(edge_state_counts(root, "uniform:0.1"))] == [0, 0]
    with pytest.raises(FcgraphError, match=r"has no fc edges for 'fgsm:0.1' \(conditions: clean, "):
        edge_state_counts(root, "fgsm:0.1")


def test_a_top_k_fc_run_says_its_states_are_not_exact(tmp_path):
    root = write_known_run(tmp_path / "known", "known")
    manifest = read_manifest(root)
    manifest.fc["parameters"]["top_k"] = 1
    write_manifest(root, manifest)
    assert not edge_state_counts(root, "uniform:0.1").exact.any()


# ----------------------------------------------------------------------------- in the graph

def test_graph_counts_every_edge_whatever_subset_is_loaded(driver, graph, known_run):
    from fcgraph.graph import queries
    from fcgraph.graph.ingest import delete_run, ingest_run

    run_id = read_manifest(known_run).run_id
    try:
        ingest_run(graph, known_run, top_k=1)
        loaded = driver.execute_query(
            "MATCH (:Neuron {run_id: $r})-[f:FC]->() RETURN count(f) AS n", r=run_id).records
        assert loaded[0]["n"] == 8  # 4 clean + 4 uniform: a sample whose overlap is 1 pair only
        loss = queries.edge_loss(graph, run_id, "uniform:0.1")
        assert counts_tuples(loss) == KNOWN  # not kept 1 as a count over the sample would say
        reverse = queries.edge_loss(graph, run_id, "clean", baseline="uniform:0.1")
        assert counts_tuples(reverse) == KNOWN_REVERSE
        silent = driver.execute_query(
            "MATCH (n:Neuron {run_id: $r}) WHERE n.silent_in IS NOT NULL "
            "RETURN n.uid AS uid, n.silent_in AS s", r=run_id).records
        assert [(r["uid"], r["s"]) for r in silent] == [(f"{run_id}/in/2", ["uniform:0.1"])]

        # top-1 clean holds in0>h0, in2>h1, h0>out0, h0>out1: one pathway is broken (its
        # second edge weakened); its first edge is kept although uniform's top-1 into h0 is in1
        sample = queries.lost_pathways(graph, run_id, "uniform:0.1")
        assert [(p, m, q, f, s, b) for p, m, q, f, s, b in zip(
            sample.pre_uid, sample.mid_uid, sample.post_uid, sample.first_state,
            sample.second_state, sample.broken, strict=True)] == [
            (f"{run_id}/in/0", f"{run_id}/h/0", f"{run_id}/out/1", "kept", "weakened", "second")]
        assert sample.attrs["complete"] is False and "top_k=1" in sample.attrs["warning"]

        ingest_run(graph, known_run, replace=True)  # every edge
        full = queries.lost_pathways(graph, run_id, "uniform:0.1")
        assert list(zip(full.score, full.first_state, full.second_state, strict=True)) == [
            (15.0, "kept", "weakened"), (14.0, "kept", "weakened"), (10.5, "silenced", "kept")]
        assert full.attrs == {"complete": True, "warning": None}
        assert counts_tuples(queries.edge_loss(graph, run_id, "uniform:0.1")) == KNOWN
        within = queries.compare_runs(graph, run_id, run_id, "clean", "uniform:0.1")
        assert [tuple(r) for r in within[["shared", "weakened", "silenced", "only_other"]]
                .itertuples(index=False)] == [(k, w, s, g) for *_, k, w, s, g in KNOWN]
    finally:
        delete_run(graph, run_id)


def test_cli_warns_when_the_answer_counts_a_subset(graph, known_run, neo4j_env):
    import json

    from fcgraph.graph.ingest import delete_run, ingest_run

    run_id = read_manifest(known_run).run_id
    try:
        ingest_run(graph, known_run, top_k=1)
        out = invoke(["query", "ensemble", "-p", f"run_id={run_id}", "-p", f"uid={run_id}/h/0",
                      "--format", "json"], env=neo4j_env)
        assert "warning: the graph holds a subset of the edges of " \
               f"{run_id}/clean (top_k=1)" in out.stderr
        records = json.loads(out.stdout)
        assert records and {r["complete"] for r in records} == {False}
        hubs = invoke(["query", "hubs", "-p", f"run_id={run_id}", "-p", "direction=in",
                       "--format", "json"], env=neo4j_env)
        assert "warning" not in hubs.stderr  # degrees from the files: h0 has 2 in-edges, not 1
        assert [(r["uid"], r["degree"]) for r in json.loads(hubs.stdout)] == [
            (f"{run_id}/h/0", 2), (f"{run_id}/h/1", 1), (f"{run_id}/out/1", 2),
            (f"{run_id}/out/0", 1)]
        loss = invoke(["query", "edge_loss", "-p", f"run_id={run_id}", "-p",
                       "condition=uniform:0.1", "--format", "json"], env=neo4j_env)
        assert "warning" not in loss.stderr  # counted from the files: complete whatever is loaded
        assert [r["kept"] for r in json.loads(loss.stdout)] == [2, 2]
    finally:
        delete_run(graph, run_id)


def test_codes_are_int8_and_row_aligned(tmp_path):
    root = write_known_run(tmp_path / "known", "known")
    states = ensure_edge_states(root)
    codes = states.codes("uniform:0.1")["clean"]
    assert codes.dtype == np.int8 and codes.size == len(UNIFORM)
    # uniform's edges under clean: in0>h0 kept, in1>h0 kept, in0>h1 weakened (gained), h0>out0
    # kept, h1>out1 kept
    assert list(codes) == [0, 0, 1, 0, 0]
