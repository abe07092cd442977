"""Analysis results in the graph (real Neo4j): neuron properties, layer read-outs and findings
on the Run node, and the two queries `gain_by_size` and `top_ensembles`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcgraph.analysis import AnalysisConfig, analyze_run
from fcgraph.analysis.synthetic import make_planted_run
from fcgraph.errors import FcgraphError
from fcgraph.graph import queries
from fcgraph.graph.ingest import delete_run, ingest_run


@pytest.fixture
def analysed_run(tmp_path, graph, run_id):
    root = tmp_path / run_id
    make_planted_run(root, run_id=run_id, n_images=200, sizes=tuple(range(8, 32, 2)),
                     perturbations=False, seed=1)
    analysis = analyze_run(root, AnalysisConfig(n_boot=20, n_shuffle=1), figures=False)
    ingest_run(graph, root)
    yield root, analysis
    delete_run(graph, run_id)


def test_ingest_puts_analysis_on_nodes(analysed_run, driver, graph, neo4j_conn, run_id):
    root, analysis = analysed_run
    table = pd.read_parquet(root / "analysis" / "neurons.parquet")
    table = table[(table["condition"] == "clean") & table["analysed"]]
    records = driver.execute_query(
        "MATCH (n:Neuron {run_id: $r, layer: 'post'}) WHERE n.analysed RETURN n {.*} AS n",
        r=run_id, database_=neo4j_conn.database).records
    nodes = {rec["n"]["idx"]: rec["n"] for rec in records}
    assert set(nodes) == set(table["idx"])
    for row in table.itertuples():
        node = nodes[row.idx]
        assert node["group_size"] == row.group_size
        assert np.isclose(node["gain"], row.gain) and np.isclose(node["threshold"], row.threshold)
        assert np.isclose(node["r2"], row.r2) and np.isclose(node["mi_event"], row.mi_event)
    run = driver.execute_query("MATCH (r:Run {run_id: $r}) RETURN r {.*} AS r", r=run_id,
                               database_=neo4j_conn.database).records[0]["r"]
    for f in analysis["findings"]:
        assert run.get(f"finding_{f['id']}_supported") == f["supported"]
        assert run.get(f"finding_{f['id']}_statistic") == f["statistic"]
    # no control network recorded: finding 1 is not tested (property unset), its value is there
    assert "finding_1_supported" not in run and run["finding_1_value"] > 2
    layer = driver.execute_query("MATCH (l:Layer {uid: $u}) RETURN l {.*} AS l",
                                 u=f"{run_id}/post", database_=neo4j_conn.database).records[0]["l"]
    assert np.isclose(layer["decoding_event_accuracy"],
                      analysis["layers"][0]["decoding"]["event"]["accuracy"])
    # a second ingest leaves everything as it was (analysis_key unchanged)
    again = ingest_run(graph, root)
    assert set(again["action"]) == {"unchanged"}


def test_gain_by_size_and_top_ensembles(analysed_run, graph, run_id):
    root, analysis = analysed_run
    table = pd.read_parquet(root / "analysis" / "neurons.parquet")
    fitted = table[(table["condition"] == "clean") & table["gain"].notna()]
    bins = queries.run_query(graph, "gain_by_size", {"run_id": run_id, "bins": 3})
    assert set(bins["layer"]) == {"post"} and bins["neurons"].sum() == len(fitted)
    assert bins["size_min"].min() == fitted["group_size"].min()
    assert np.isclose((bins["mean_gain"] * bins["neurons"]).sum() / bins["neurons"].sum(),
                      fitted["gain"].mean())
    assert list(bins["bin"]) == sorted(bins["bin"])
    top = queries.run_query(graph, "top_ensembles", {"run_id": run_id, "by": "gain", "top": 3})
    expected = fitted.sort_values(["gain", "idx"], ascending=[False, True]).head(3)
    assert top["idx"].tolist() == expected["idx"].tolist()
    assert top["rank"].tolist() == [1, 2, 3] and np.allclose(top["score"], expected["gain"])
    by_mi = queries.run_query(graph, "top_ensembles", {"run_id": run_id, "by": "mi_event",
                                                        "top": 1})
    assert np.isclose(by_mi["score"].iloc[0], fitted["mi_event"].max())


@pytest.mark.parametrize("name", ["gain_by_size", "top_ensembles"])
def test_queries_declare_their_params_and_only_read(name, driver, graph, neo4j_conn):
    import re

    import neo4j

    text = queries.query_text(name)
    body = "\n".join(line.split("//")[0] for line in text.splitlines())
    assert set(re.findall(r"\$(\w+)", body)) == set(queries.query_params(name))
    values = queries.coerce_params(name, {"run_id": "nope"})
    summary = driver.execute_query("EXPLAIN " + text, values, database_=neo4j_conn.database,
                                   routing_=neo4j.RoutingControl.READ).summary
    assert summary.query_type == "r"
    with pytest.raises(FcgraphError, match="no run 'no-such-run'"):
        queries.run_query(graph, name, {"run_id": "no-such-run"})
