"""fcgraph.Client and NeuronCriteria: every answer equals a plain pandas computation on the run's
own tables (neurons, edges), lists and criteria everywhere, reads only."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fcgraph
from fcgraph.contract import condition_slug
from fcgraph.errors import FcgraphError
from fcgraph.graph import queries
from fcgraph.graph.ingest import delete_run, ingest_run
from fcgraph.synthetic import make_synthetic_run

LAYERS = (("l0", (2, 3, 3)), ("l1", (24,)), ("l2", (10,)))
EDGE_KEY = ["uid_pre", "uid_post"]


@pytest.fixture(scope="module")
def run(graph, tmp_path_factory):
    """A synthetic run in the graph with its neuron and edge tables as the files hold them."""
    run_id = f"c{uuid.uuid4().hex[:10]}"
    root = tmp_path_factory.mktemp("client") / "run"
    make_synthetic_run(root, run_id, layers=LAYERS, conditions=("clean", "uniform:0.2"), fan_in=4,
                       silent=0.1)
    ingest_run(graph, root)
    neurons = pd.read_parquet(root / "fc" / "neurons.parquet")  # one row per condition
    neurons = neurons[neurons.condition == "clean"].reset_index(drop=True)  # the nodes' stats
    neurons["uid"] = run_id + "/" + neurons["layer"] + "/" + neurons["idx"].astype(str)
    edges = {}
    for condition in ("clean", "uniform:0.2"):
        table = pd.read_parquet(root / "fc" / "edges" / f"{condition_slug(condition)}.parquet")
        table["uid_pre"] = run_id + "/" + table["pre_layer"] + "/" + table["pre_idx"].astype(str)
        table["uid_post"] = run_id + "/" + table["post_layer"] + "/" + table["post_idx"].astype(str)
        edges[condition] = table
    yield run_id, neurons, edges
    delete_run(graph, run_id)


@pytest.fixture
def client(graph, run):
    with fcgraph.Client(graph=graph, run=run[0]) as c:
        yield c


def _pairs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[EDGE_KEY + ["z", "value", "cofire"]].sort_values(EDGE_KEY).reset_index(drop=True)


def test_fetch_neurons_by_criteria_equals_the_neuron_table(client, run):
    _, neurons, _ = run
    got = client.fetch_neurons(fcgraph.NeuronCriteria(layer=["l0", "l2"], idx=[0, 3, 5, 9]))
    want = neurons[neurons.layer.isin(["l0", "l2"]) & neurons.idx.isin([0, 3, 5, 9])]
    assert sorted(got.uid) == sorted(want.uid) and len(got) == 8
    assert list(got.columns[:5]) == ["uid", "run_id", "layer", "layer_order", "idx"]
    # a property range (None: open end) and an exact value, against the same table
    low, high = neurons.rate.quantile([0.25, 0.75])
    got = client.fetch_neurons(fcgraph.NeuronCriteria(rate=(low, high), channel=1))
    want = neurons[(neurons.rate >= low) & (neurons.rate <= high) & (neurons.channel == 1)]
    assert sorted(got.uid) == sorted(want.uid) and len(want) > 0
    got = client.fetch_neurons(fcgraph.NeuronCriteria(layer="l1", spike_count=(None, 100)))
    want = neurons[(neurons.layer == "l1") & (neurons.spike_count <= 100)]
    assert sorted(got.uid) == sorted(want.uid)
    np.testing.assert_allclose(got.set_index("uid").rate.sort_index(),
                               want.set_index("uid").rate.sort_index())
    # one uid, a list of uids; every neuron of the run
    uids = want.uid.tolist()[:2]
    assert client.fetch_neurons(uids[0]).uid.tolist() == uids[:1]
    assert sorted(client.fetch_neurons(uids).uid) == sorted(uids)
    assert len(client.fetch_neurons()) == len(neurons)


def test_fetch_edges_equals_the_edge_tables_from_either_side(client, run):
    _, _, edges = run
    table = edges["uniform:0.2"]
    sources = fcgraph.NeuronCriteria(layer="l0", idx=list(range(0, 18, 2)))
    got = client.fetch_edges(sources, condition="uniform:0.2")
    want = table[(table.pre_layer == "l0") & table.pre_idx.isin(range(0, 18, 2))]
    pd.testing.assert_frame_equal(_pairs(got), _pairs(want), check_dtype=False)
    assert got.z.is_monotonic_decreasing and got.attrs["complete"] is True
    assert {"uid_pre", "layer_pre", "idx_pre", "uid_post", "layer_post", "idx_post"} <= set(got.columns)
    # targets only (the query starts from them), both sides, a z threshold, a limit
    targets = fcgraph.NeuronCriteria(layer="l2", idx=[1, 4])
    got = client.fetch_edges(targets=targets, condition="uniform:0.2")
    want = table[(table.post_layer == "l2") & table.post_idx.isin([1, 4])]
    pd.testing.assert_frame_equal(_pairs(got), _pairs(want), check_dtype=False)
    z = float(table.z.median())
    got = client.fetch_edges(fcgraph.NeuronCriteria(layer="l1"), fcgraph.NeuronCriteria(layer="l2"),
                             "uniform:0.2", min_z=z)
    want = table[(table.pre_layer == "l1") & (table.post_layer == "l2") & (table.z >= z)]
    pd.testing.assert_frame_equal(_pairs(got), _pairs(want), check_dtype=False)
    top = client.fetch_edges(fcgraph.NeuronCriteria(layer="l1"), condition="uniform:0.2", limit=3)
    assert top.z.tolist() == sorted(table[table.pre_layer == "l1"].z, reverse=True)[:3]


def test_fetch_adjacencies_gives_the_neurons_at_both_ends(client, run):
    neurons_at, edges = client.fetch_adjacencies([f"{run[0]}/l1/{i}" for i in (0, 1, 2)])
    want = run[2]["clean"]
    want = want[(want.pre_layer == "l1") & want.pre_idx.isin([0, 1, 2])]
    pd.testing.assert_frame_equal(_pairs(edges), _pairs(want), check_dtype=False)
    assert sorted(neurons_at.uid) == sorted(set(want.uid_pre) | set(want.uid_post))


def test_fetch_ensemble_takes_lists_and_criteria(client, run, graph):
    run_id, _, edges = run
    uids = [f"{run_id}/l2/3", f"{run_id}/l2/7"]
    got = client.fetch_ensemble(uids, condition="uniform:0.2")
    table = edges["uniform:0.2"]
    pd.testing.assert_frame_equal(_pairs(got), _pairs(table[table.uid_post.isin(uids)]),
                                  check_dtype=False)
    # the same rows as the named query, columns renamed to neuPrint's suffixes
    one = queries.ensemble(graph, run_id, uids[0], "uniform:0.2")
    assert len(got.columns) == len(one.columns) and "pre_uid" in one.columns
    assert {"uid_pre", "channel_pre", "rate_pre", "uid_post", "idx_post"} <= set(got.columns)
    assert not [c for c in got.columns if c.startswith(("pre_", "post_"))]
    by_criteria = client.fetch_ensemble(fcgraph.NeuronCriteria(layer="l2", idx=[3, 7]),
                                        condition="uniform:0.2")
    pd.testing.assert_frame_equal(_pairs(by_criteria), _pairs(got))


def test_named_queries_and_custom_cypher(client, run, graph):
    run_id = run[0]
    loss = client.fetch_edge_loss("uniform:0.2")
    pd.testing.assert_frame_equal(loss, queries.edge_loss(graph, run_id, "uniform:0.2"))
    assert client.query("layer_summary").equals(queries.layer_summary(graph, run_id))
    hubs = client.fetch_hubs(layer="l1", top=2)
    assert len(hubs) == 2 and set(hubs.layer) == {"l1"}
    paths = client.fetch_pathways(f"{run_id}/l0/0", "l2", k=3)
    assert paths["rank"].tolist() == list(range(1, len(paths) + 1)) and len(paths) > 0
    n = client.fetch_custom("MATCH (n:Neuron {run_id: $run, layer: $layer}) RETURN count(n) AS n",
                            run=run_id, layer="l1")
    assert n.to_dict("records") == [{"n": 24}]
    with pytest.raises(FcgraphError, match="fetch_custom failed"):  # read transactions only
        client.fetch_custom("CREATE (:Intruder {run_id: $run})", run=run_id)
    assert client.fetch_custom("MATCH (x:Intruder) RETURN count(x) AS n").n[0] == 0


def test_a_subset_is_flagged(graph, tmp_path):
    run_id = f"c{uuid.uuid4().hex[:10]}"
    make_synthetic_run(tmp_path / "run", run_id, layers=LAYERS, conditions=("clean",), fan_in=4)
    ingest_run(graph, tmp_path / "run", top_k=1)
    try:
        got = fcgraph.Client(graph=graph, run=run_id).fetch_edges(fcgraph.NeuronCriteria(layer="l1"))
        assert got.attrs["complete"] is False and "top_k=1" in got.attrs["warning"]
        assert (got.groupby("uid_post").size() == 1).all()
    finally:
        delete_run(graph, run_id)


def test_bad_input_is_one_line(client, run, graph, tmp_path):
    with pytest.raises(FcgraphError, match="has no layer 'nope'"):
        client.fetch_neurons(fcgraph.NeuronCriteria(layer="nope"))
    with pytest.raises(FcgraphError, match="has no condition 'fgsm:0.1'"):
        client.fetch_edges(fcgraph.NeuronCriteria(layer="l1"), condition="fgsm:0.1")
    with pytest.raises(FcgraphError, match="has no layer 'nope'"):  # a layer of the targets
        client.fetch_edges(fcgraph.NeuronCriteria(layer="l1"), fcgraph.NeuronCriteria(layer="nope"))
    with pytest.raises(FcgraphError, match="give sources, targets or a limit"):
        client.fetch_edges()
    assert len(client.fetch_edges(limit=2)) == 2  # the two strongest of the condition
    with pytest.raises(FcgraphError, match="no run 'no-such-run'"):
        client.fetch_neurons(run="no-such-run")
    with pytest.raises(FcgraphError, match="not a property"):
        fcgraph.NeuronCriteria(**{"rate) OR true //": 1})
    with pytest.raises(FcgraphError, match="use the layer field"):
        fcgraph.NeuronCriteria(properties={"layer": "l1"})
    with pytest.raises(FcgraphError, match="expected int"):
        fcgraph.NeuronCriteria(idx=["0"])
    # a value is only ever a value: a quote in it matches nothing and changes nothing
    assert client.fetch_neurons(fcgraph.NeuronCriteria(layer="l1", uid="x' OR 1=1 //")).empty
    # no default run while the graph holds several (a second run makes it so on any server)
    other = f"c{uuid.uuid4().hex[:10]}"
    make_synthetic_run(tmp_path / "other", other, layers=LAYERS, conditions=("clean",), fan_in=2)
    ingest_run(graph, tmp_path / "other")
    try:
        with pytest.raises(FcgraphError, match="which run"):
            _ = fcgraph.Client(graph=graph).run
    finally:
        delete_run(graph, other)


def test_client_connects_from_the_settings_the_cli_uses(run, neo4j_conn, monkeypatch, tmp_path):
    for key, value in (("NEO4J_URI", neo4j_conn.uri), ("NEO4J_USER", neo4j_conn.user),
                       ("NEO4J_PASSWORD", neo4j_conn.password), ("NEO4J_DATABASE", neo4j_conn.database)):
        monkeypatch.setenv(key, value)
    with fcgraph.Client(run=run[0], state_dir=Path(tmp_path)) as c:
        assert len(c.fetch_neurons(fcgraph.NeuronCriteria(layer="l2"))) == 10
        assert neo4j_conn.password not in repr(c)
