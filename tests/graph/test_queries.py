"""The named query library on a hand-written connectome whose every answer is known
(tests/helpers/query_runs.py).

Run A has four layers (in: 4 dense, h1: 1x2x2 conv, h2: 3, out: 2), a ``clean`` condition of
15 edges E1..E15 and ``uniform:0.1``, which loses E4, E7, E10, E14, keeps the others with
z - 0.5 and gains G1, G2. Run B (same layers, clean only) shares E1, E2, E4, E7, E12 with A and
has three edges of its own. Non-live edges (gen -1) are written next to the live ones and
must never show.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import neo4j
import pandas as pd
import pytest

from fcgraph.errors import FcgraphError
from fcgraph.graph import queries
from fcgraph.graph.connection import Graph
from fcgraph.graph.ingest import delete_run, ingest_run
from tests.helpers.query_runs import tiny_runs, write_run


@pytest.fixture(scope="module")
def runs(driver: neo4j.Driver, graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    with tiny_runs(graph, tmp_path_factory.mktemp("tiny")) as ids:
        yield ids


def uids(run_id: str, *names: str) -> list[str]:
    return [f"{run_id}/{name}" for name in names]


# ----------------------------------------------------------------------------- library

def test_library_lists_every_query_with_parsed_headers():
    listed = queries.list_queries()
    assert list(listed.columns) == ["name", "description", "params"]
    assert sorted(listed.name) == ["compare_runs", "edge_loss", "ensemble", "gain_by_size", "hubs",
                                   "layer_summary", "lost_pathways", "pathways", "top_ensembles"]
    assert all(listed.description.str.len() > 20)
    params = queries.query_params("hubs")
    assert list(params) == ["run_id", "condition", "direction", "top", "layer"]
    assert params["run_id"].required and params["run_id"].type == "string"
    assert params["direction"].choices == ("in", "out") and params["direction"].default == "out"
    assert params["top"].type == "int" and params["top"].default == 10
    assert params["top"].minimum == 1
    assert not params["layer"].required and params["layer"].default is None
    assert queries.get_query("pathways").one_of == ("uid", "source_layer")
    assert queries.get_query("pathways").timeout == 120
    assert queries.query_text("ensemble").startswith("// name: ensemble\n")


@pytest.mark.parametrize("name", ["compare_runs", "edge_loss", "ensemble", "gain_by_size", "hubs",
                                  "layer_summary", "lost_pathways", "pathways", "top_ensembles"])
def test_every_query_uses_exactly_its_declared_params_and_never_writes(name):
    text = queries.query_text(name)
    body = "\n".join(line.split("//")[0] for line in text.splitlines())
    assert set(re.findall(r"\$(\w+)", body)) == set(queries.query_params(name))
    assert not re.search(r"\b(CREATE|MERGE|SET|DELETE|REMOVE|DETACH|LOAD)\b", body, re.I)
    if ":FC" in body:  # every edge read is filtered to its live gen
        assert "r.gen" in body or "s.gen" in body


def test_param_validation_one_line_errors():
    ok = queries.coerce_params("pathways", {"run_id": "r", "uid": "r/in/0", "target_layer": "out",
                                            "k": "3", "min_z": "4.5", "score": "prod_value"})
    assert ok["k"] == 3 and ok["min_z"] == 4.5 and ok["condition"] == "clean"
    assert ok["source_layer"] is None and ok["max_paths"] == 50000
    cases = [
        ({"run_id": "r", "bogus": 1}, "has no parameter 'bogus'"),
        ({"uid": "r/in/0"}, "needs parameter 'run_id'"),
        ({"run_id": "r", "uid": "u", "k": "ten"}, "'k' expects an int"),
        ({"run_id": "r", "uid": "u", "k": 2.5}, "'k' expects an int"),
        ({"run_id": "r", "uid": "u", "k": True}, "'k' expects an int"),
        ({"run_id": "r", "uid": "u", "k": 0}, "'k' must be >= 1"),
        ({"run_id": "r", "uid": "u", "min_z": "nan"}, "'min_z' expects a number"),
        ({"run_id": "r", "uid": "u", "score": "max"}, "must be one of sum_z, prod_value"),
        ({"run_id": 5, "uid": "u"}, "'run_id' expects a string"),
        ({"run_id": "r"}, "exactly one of uid, source_layer"),
        ({"run_id": "r", "uid": "u", "source_layer": "in"}, "exactly one of uid, source_layer"),
    ]
    for params, message in cases:
        with pytest.raises(FcgraphError, match=re.escape(message)) as info:
            queries.coerce_params("pathways", {"target_layer": "out", **params})
        assert "\n" not in str(info.value)
    with pytest.raises(FcgraphError, match=r"unknown query 'nope' \(available: compare_runs, "):
        queries.run_query(None, "nope", {})  # type: ignore[arg-type]


def test_bool_params_and_a_broken_header(tmp_path, monkeypatch):
    (tmp_path / "flag.cypher").write_text(
        "// name: flag\n// description: test\n// param on: bool = false -- a flag\n"
        "RETURN $on AS on\n")
    (tmp_path / "schema.cypher").write_text("CREATE INDEX x IF NOT EXISTS FOR (n:X) ON (n.x);\n")
    monkeypatch.setenv("FCGRAPH_CYPHER_DIR", str(tmp_path))
    assert list(queries.list_queries().name) == ["flag"]
    assert queries.coerce_params("flag", {})["on"] is False
    assert queries.coerce_params("flag", {"on": "Yes"})["on"] is True
    with pytest.raises(FcgraphError, match="expects true or false"):
        queries.coerce_params("flag", {"on": "maybe"})
    (tmp_path / "bad.cypher").write_text("// name: bad\n// param x: date\nRETURN 1\n")
    with pytest.raises(FcgraphError, match="bad header line"):
        queries.get_query("bad")


# ----------------------------------------------------------------------------- queries

def test_ensemble_is_the_live_in_edges_strongest_first(graph, runs):
    a, _ = runs
    df = queries.ensemble(graph, a, f"{a}/h1/0")
    assert list(df.pre_uid) == uids(a, "in/0", "in/1", "in/2")  # not the stale in/3 (z 99)
    assert list(df.z) == [5.0, 4.0, 3.5] and list(df.value) == [0.5, 0.4, 0.35]
    assert list(df.cofire) == [20, 18, 17] and set(df.null_sd) == {2.0}
    assert set(df.post_uid) == {f"{a}/h1/0"} and set(df.post_layer) == {"h1"}
    assert list(df.pre_rate) == [0.01, 0.02, 0.03]
    perturbed = queries.ensemble(graph, a, f"{a}/h1/0", "uniform:0.1")
    assert list(perturbed.z) == [4.5, 3.5, 3.0]
    assert list(queries.ensemble(graph, a, f"{a}/h1/0", min_z=4).pre_idx) == [0, 1]
    assert list(queries.ensemble(graph, a, f"{a}/h1/0", limit=1).pre_idx) == [0]
    conv = queries.ensemble(graph, a, f"{a}/h2/0")  # pre neurons in the 1x2x2 conv layer
    assert list(conv.pre_idx) == [0, 1]
    assert list(zip(conv.pre_channel, conv.pre_y, conv.pre_x, strict=True)) == [(0, 0, 0),
                                                                                 (0, 0, 1)]
    assert queries.ensemble(graph, a, f"{a}/in/0").empty  # first layer: no in-edges


def test_empty_answers_name_what_does_not_exist(graph, runs):
    a, b = runs
    with pytest.raises(FcgraphError, match=r"no run 'nope' in the graph"):
        queries.ensemble(graph, "nope", "nope/h1/0")
    with pytest.raises(FcgraphError, match=r"has no condition 'fgsm:0.1' \(conditions: clean, "
                                           r"uniform:0.1\)"):
        queries.ensemble(graph, a, f"{a}/h1/0", "fgsm:0.1")
    with pytest.raises(FcgraphError, match=rf"no neuron '{b}/h1/0' in run '{a}'"):
        queries.ensemble(graph, a, f"{b}/h1/0")
    with pytest.raises(FcgraphError, match=r"has no layer 'h9' \(layers: in, h1, h2, out\)"):
        queries.pathways(graph, a, f"{a}/in/0", "h9")
    with pytest.raises(FcgraphError, match=rf"run '{b}' has no condition 'uniform:0.1'"):
        queries.compare_runs(graph, a, b, "uniform:0.1")


EXPECTED_IN1_TO_OUT = [  # (path, sum_z, prod_value), every clean path from in/1 to out
    (("in/1", "h1/1", "h2/0", "out/0"), 18.0, 0.2 * 0.55 * 0.65),
    (("in/1", "h1/0", "h2/0", "out/0"), 17.5, 0.4 * 0.3 * 0.65),
    (("in/1", "h1/1", "h2/2", "out/1"), 15.4, 0.2 * 0.42 * 0.52),
    (("in/1", "h1/1", "h2/0", "out/1"), 15.1, 0.2 * 0.55 * 0.36),
    (("in/1", "h1/0", "h2/0", "out/1"), 14.6, 0.4 * 0.3 * 0.36),
    (("in/1", "h1/0", "h2/1", "out/0"), 10.5, 0.4 * 0.31 * 0.34),
]


@pytest.mark.parametrize("score", ["sum_z", "prod_value"])
def test_pathways_ranks_every_path_by_the_stated_score(graph, runs, score):
    a, _ = runs
    df = queries.pathways(graph, a, f"{a}/in/1", "out", k=10, score=score)
    col = 1 if score == "sum_z" else 2
    expected = sorted(EXPECTED_IN1_TO_OUT, key=lambda e: -e[col])
    assert [p for p in df.path] == [uids(a, *e[0]) for e in expected]
    assert isinstance(df.path[0], list) and isinstance(df.z[0], list)
    assert list(df.score) == pytest.approx([e[col] for e in expected])
    assert list(df.sum_z) == pytest.approx([e[1] for e in expected])
    assert list(df.prod_value) == pytest.approx([e[2] for e in expected])
    assert list(df["rank"]) == [1, 2, 3, 4, 5, 6] and set(df.hops) == {3}
    assert set(df.candidates) == {6} and df.exhaustive.all()
    assert set(df.source_uid) == {f"{a}/in/1"}
    top = df.iloc[0]
    assert top.z == ([6.0, 5.5, 6.5] if score == "sum_z" else [4.0, 7.0, 6.5])
    assert top.weakest_z == min(top.z)


def test_pathways_k_min_z_condition_targets_and_layer_sources(graph, runs):
    a, _ = runs
    two = queries.pathways(graph, a, f"{a}/in/1", "out", k=2)
    assert list(two.sum_z) == [18.0, 17.5] and set(two.candidates) == {6}
    pruned = queries.pathways(graph, a, f"{a}/in/1", "out", min_z=4)
    assert list(pruned.sum_z) == pytest.approx([18.0, 17.5, 15.4])
    perturbed = queries.pathways(graph, a, f"{a}/in/1", "out", "uniform:0.1")
    assert [p for p in perturbed.path] == [uids(a, "in/1", "h1/0", "h2/1", "out/0")]
    assert list(perturbed.sum_z) == pytest.approx([9.0])
    mid = queries.pathways(graph, a, f"{a}/in/1", "h2")
    assert list(mid.sum_z) == pytest.approx([11.5, 11.0, 10.2, 7.1]) and set(mid.hops) == {2}
    layer = queries.pathways(graph, a, None, "out", k=1, source_layer="in")
    assert layer.path[0] == uids(a, "in/0", "h1/0", "h2/0", "out/0")  # 18.5, not stale in/3
    assert layer.sum_z[0] == 18.5
    capped = queries.pathways(graph, a, None, "out", k=50, source_layer="in", max_paths=3)
    assert len(capped) == 3 and set(capped.candidates) == {3} and not capped.exhaustive.any()
    assert queries.pathways(graph, a, f"{a}/out/0", "out").empty  # no zero-hop paths


@pytest.mark.parametrize("score", ["sum_z", "prod_value"])
@pytest.mark.parametrize("k", [1, 3, 100])
def test_strongest_paths_agrees_with_the_cypher_enumeration(graph, runs, score, k):
    a, _ = runs
    cases = [dict(source_uid=f"{a}/in/{i}", target_layer=t) for i in range(4)
             for t in ("h2", "out")]
    cases += [dict(source_uid=None, source_layer="in", target_layer="out"),
              dict(source_uid=None, source_layer="h1", target_layer="out"),
              dict(source_uid=None, source_layer="in", target_layer="out", min_z=3.4),
              dict(source_uid=None, source_layer="in", target_layer="out",
                   condition="uniform:0.1")]
    for case in cases:
        kw = {key: v for key, v in case.items() if key not in ("source_uid", "target_layer")}
        dp = queries.strongest_paths(graph, a, case["source_uid"], case["target_layer"], k=k,
                                     score=score, batch_size=2, **kw)
        cy = queries.pathways(graph, a, case["source_uid"], case["target_layer"], k=k,
                              score=score, **kw)
        assert list(dp.columns) == queries.PATH_COLUMNS
        pd.testing.assert_frame_equal(dp, cy[queries.PATH_COLUMNS], check_dtype=False)
    assert len(queries.strongest_paths(graph, a, None, "out", k=100, source_layer="in")) == 16


def test_strongest_paths_is_exact_with_negative_values(graph, tmp_path):
    """Products of signed values: the DP keeps the lowest partials too, so it stays exact."""
    run_id = f"q{uuid.uuid4().hex[:10]}"
    edges = [("in", i, "h1", j, 3.0 + i + j, v) for i, j, v in
             [(0, 0, -0.9), (1, 0, 0.8), (2, 0, 0.1), (0, 1, 0.5), (1, 1, -0.2)]]
    edges += [("h1", 0, "h2", 0, 4.0, -0.7), ("h1", 1, "h2", 0, 4.0, 0.6),
              ("h2", 0, "out", 0, 5.0, 0.9), ("h2", 0, "out", 1, 5.0, -0.95)]
    try:
        ingest_run(graph, write_run(tmp_path / "neg", run_id, {"clean": edges}))
        for k in (1, 2, 3):
            dp = queries.strongest_paths(graph, run_id, None, "out", k=k, score="prod_value",
                                         source_layer="in")
            cy = queries.pathways(graph, run_id, None, "out", k=k, score="prod_value",
                                  source_layer="in")
            pd.testing.assert_frame_equal(dp, cy[queries.PATH_COLUMNS], check_dtype=False)
        assert dp.prod_value[0] == pytest.approx(-0.9 * -0.7 * 0.9)
    finally:
        delete_run(graph, run_id)


def test_edge_loss_counts_kept_lost_and_gained_per_layer_pair(graph, runs):
    a, _ = runs
    df = queries.edge_loss(graph, a, "uniform:0.1")
    assert list(df.columns) == ["pre_layer", "post_layer", "baseline", "condition",
                                "baseline_edges", "condition_edges", "kept", "weakened",
                                "silenced", "lost", "gained", "lost_fraction", "jaccard", "exact"]
    got = [tuple(r) for r in df[["pre_layer", "post_layer", "baseline_edges", "condition_edges",
                                 "kept", "lost", "gained"]].itertuples(index=False)]
    assert got == [("in", "h1", 6, 6, 5, 1, 1), ("h1", "h2", 5, 4, 3, 2, 1),
                   ("h2", "out", 4, 3, 3, 1, 0)]
    # no min_spikes in this run's manifest: every neuron counts as tested, so a loss is a weakening
    assert list(df.weakened) == list(df.lost) and set(df.silenced) == {0} and df.exact.all()
    assert list(df.lost_fraction) == pytest.approx([1 / 6, 2 / 5, 1 / 4])
    assert list(df.jaccard) == pytest.approx([5 / 7, 3 / 6, 3 / 4])
    same = queries.edge_loss(graph, a, "clean")
    assert list(same.lost) == [0, 0, 0] and list(same.kept) == [6, 5, 4]
    reverse = queries.edge_loss(graph, a, "clean", baseline="uniform:0.1")
    assert list(reverse.lost) == [1, 1, 0] and list(reverse.gained) == [1, 2, 1]


EXPECTED_LOST = [  # (pre, mid, post, score, broken)
    ("h1/0", "h2/0", "out/0", 13.5, "first"), ("in/0", "h1/0", "h2/0", 12.0, "second"),
    ("in/1", "h1/1", "h2/0", 11.5, "first"), ("in/1", "h1/0", "h2/0", 11.0, "second"),
    ("h1/0", "h2/0", "out/1", 10.6, "first"), ("in/2", "h1/0", "h2/0", 10.5, "second"),
    ("in/1", "h1/1", "h2/2", 10.2, "both"), ("h1/1", "h2/2", "out/1", 9.4, "both"),
    ("h1/2", "h2/2", "out/1", 8.5, "second"), ("in/3", "h1/1", "h2/2", 7.4, "second"),
]


def test_lost_pathways_lists_broken_two_edge_paths_strongest_first(graph, runs):
    a, _ = runs
    df = queries.lost_pathways(graph, a, "uniform:0.1")
    got = list(zip(df.pre_uid, df.mid_uid, df.post_uid, strict=True))
    assert got == [tuple(uids(a, *e[:3])) for e in EXPECTED_LOST]
    assert list(df.score) == pytest.approx([e[3] for e in EXPECTED_LOST])
    assert list(df.broken) == [e[4] for e in EXPECTED_LOST]
    assert list(df["rank"]) == list(range(1, 11))
    first = df.iloc[0]
    assert (first.pre_layer, first.mid_layer, first.post_layer) == ("h1", "h2", "out")
    assert (first.z_first, first.z_second) == (7.0, 6.5)
    assert (bool(first.first_kept), bool(first.second_kept)) == (False, True)
    assert list(queries.lost_pathways(graph, a, "uniform:0.1", limit=3)["rank"]) == [1, 2, 3]
    h1 = queries.lost_pathways(graph, a, "uniform:0.1", pre_layer="h1")
    assert list(h1.score) == pytest.approx([13.5, 10.6, 9.4, 8.5])
    strong = queries.lost_pathways(graph, a, "uniform:0.1", min_z=4)
    assert list(strong.score) == pytest.approx([13.5, 12.0, 11.5, 11.0, 10.2, 9.4])
    assert queries.lost_pathways(graph, a, "clean").empty


def test_hubs_per_layer_by_degree(graph, runs):
    a, _ = runs
    out = queries.hubs(graph, a, direction="out", top=2)
    assert list(zip(out.layer, out["rank"], out.uid, out.degree, strict=True)) == [
        ("in", 1, f"{a}/in/1", 2), ("in", 2, f"{a}/in/2", 2),
        ("h1", 1, f"{a}/h1/0", 2), ("h1", 2, f"{a}/h1/1", 2),
        ("h2", 1, f"{a}/h2/0", 2), ("h2", 2, f"{a}/h2/2", 1)]
    assert list(out.sum_z) == pytest.approx([10.0, 8.0, 10.1, 9.7, 10.1, 5.2])
    assert set(out.direction) == {"out"}
    inward = queries.hubs(graph, a, direction="in", top=1)
    assert list(zip(inward.uid, inward.degree, strict=True)) == [
        (f"{a}/h1/0", 3), (f"{a}/h2/0", 2), (f"{a}/out/0", 2)]  # stale in/3 -> h1/0 not counted
    assert list(inward.mean_z) == pytest.approx([12.5 / 3, 6.25, 4.95])
    h1 = queries.hubs(graph, a, direction="in", layer="h1")
    assert list(h1.idx) == [0, 1, 2] and list(h1.degree) == [3, 2, 1]  # h1/3: degree 0, left out
    assert list(zip(h1.channel, h1.y, h1.x, strict=True)) == [(0, 0, 0), (0, 0, 1), (0, 1, 0)]
    perturbed = queries.hubs(graph, a, "uniform:0.1", direction="in", top=1, layer="h1")
    assert list(perturbed.degree) == [3]


def test_layer_summary_per_pair_and_condition(graph, runs):
    a, _ = runs
    df = queries.layer_summary(graph, a)
    assert list(zip(df.pre_layer, df.post_layer, df.condition, df.edges, strict=True)) == [
        ("in", "h1", "clean", 6), ("in", "h1", "uniform:0.1", 6),
        ("h1", "h2", "clean", 5), ("h1", "h2", "uniform:0.1", 4),
        ("h2", "out", "clean", 4), ("h2", "out", "uniform:0.1", 3)]
    first = df.iloc[0]
    assert (first.pre_neurons, first.post_neurons) == (4, 4)
    assert first.density == 6 / 16 and first.mean_in_degree == 1.5
    assert first.mean_out_degree == 1.5
    assert (first.connected_pre, first.connected_post) == (4, 3)
    assert first.mean_z == pytest.approx(26.2 / 6)
    assert first.mean_value == pytest.approx(2.22 / 6)
    assert (df.iloc[1].connected_pre, df.iloc[1].connected_post) == (4, 4)
    only = queries.layer_summary(graph, a, "uniform:0.1")
    assert list(only.condition.unique()) == ["uniform:0.1"] and list(only.edges) == [6, 4, 3]


def test_compare_runs_counts_shared_edges_by_layer_and_index(graph, runs):
    a, b = runs
    df = queries.compare_runs(graph, a, b)
    got = [tuple(r) for r in df[["pre_layer", "post_layer", "run_edges", "other_edges",
                                 "shared", "only_run", "only_other"]].itertuples(index=False)]
    assert got == [("in", "h1", 6, 4, 3, 3, 1), ("h1", "h2", 5, 2, 1, 4, 1),
                   ("h2", "out", 4, 2, 1, 3, 1)]  # B's stale in/2 -> h1/0 does not count
    assert list(df.jaccard) == pytest.approx([3 / 7, 1 / 6, 1 / 5])
    assert list(df.mean_z_shared) == pytest.approx([5.0, 7.0, 6.5])
    assert df.mean_z_only_run[0] == pytest.approx(11.2 / 3)
    one = queries.compare_runs(graph, a, b, pre_layer="h1")
    assert one.to_dict("records") == df[df.pre_layer == "h1"].to_dict("records")
    assert set(df.run_id) == {a} and set(df.other_run_id) == {b}
    back = queries.compare_runs(graph, b, a)
    assert list(back.shared) == [3, 1, 1] and list(back.run_edges) == [4, 2, 2]
    assert list(back.mean_z_shared) == pytest.approx([3.3, 3.3, 3.3])
    within = queries.compare_runs(graph, a, a, "clean", "uniform:0.1")
    loss = queries.edge_loss(graph, a, "uniform:0.1")
    assert list(within.shared) == list(loss.kept)
    assert list(within.only_other) == list(loss.gained)


def test_run_query_takes_cli_strings_and_reads_only(driver, graph, runs):
    a, _ = runs
    df = queries.run_query(graph, "hubs", {"run_id": a, "top": "1", "direction": "in"})
    assert list(df.degree) == [3, 2, 2]
    every = {"ensemble": {"uid": f"{a}/h1/0"}, "pathways": {"uid": f"{a}/in/0",
                                                           "target_layer": "out"},
             "edge_loss": {"condition": "uniform:0.1"}, "hubs": {}, "layer_summary": {},
             "lost_pathways": {"condition": "uniform:0.1"}, "compare_runs": {"other_run_id": a},
             "gain_by_size": {}, "top_ensembles": {}}
    assert sorted(every) == sorted(queries.list_queries().name)
    for name, extra in every.items():
        values = queries.coerce_params(name, {"run_id": a, **extra})
        summary = driver.execute_query("EXPLAIN " + queries.query_text(name), values,
                                       routing_=neo4j.RoutingControl.READ).summary
        assert summary.query_type == "r", name
