"""`fcgraph export`: every format read back equals the edge tables that were ingested."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from fcgraph.cli import app
from fcgraph.contract import condition_slug, read_manifest
from fcgraph.errors import FcgraphError
from fcgraph.graph.export import export_run, load_networkx
from fcgraph.graph.ingest import ingest_run
from fcgraph.synthetic import make_synthetic_run

runner = CliRunner()
CONDITIONS = ("clean", "uniform:0.2")
KEY = ["condition", "pre_layer", "pre_idx", "post_layer", "post_idx"]
VALUES = ["z", "value", "cofire", "null_mean", "null_sd"]


@pytest.fixture
def ingested(graph, run_id, tmp_path) -> tuple[str, pd.DataFrame, dict[str, int]]:
    """A synthetic run in Neo4j, its edge tables (all conditions) and its layer sizes."""
    root = tmp_path / "run"
    manifest = make_synthetic_run(root, run_id, conditions=CONDITIONS, fan_in=4)
    ingest_run(graph, root)
    edges = pd.concat([pd.read_parquet(root / "fc" / "edges" / f"{condition_slug(c)}.parquet")
                       for c in CONDITIONS], ignore_index=True)
    sizes = {la.name: la.n_neurons for la in read_manifest(root).layers}
    assert sum(sizes.values()) == sum(la.n_neurons for la in manifest.layers)
    return run_id, edges, sizes


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[KEY + VALUES].sort_values(KEY).reset_index(drop=True)


def test_parquet_equals_the_ingested_tables(graph, ingested, tmp_path):
    run_id, edges, sizes = ingested
    result = export_run(graph, run_id, "parquet", tmp_path / "out")
    exported = pd.read_parquet(tmp_path / "out" / "edges.parquet")
    pd.testing.assert_frame_equal(_table(exported), _table(edges), check_dtype=False)
    assert (exported["pre_uid"] == run_id + "/" + exported["pre_layer"] + "/"
            + exported["pre_idx"].astype(str)).all()
    nodes = pd.read_parquet(tmp_path / "out" / "nodes.parquet")
    assert len(nodes) == sum(sizes.values()) == result.n_neurons
    assert nodes.groupby("layer").size().to_dict() == sizes
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["run_id"] == run_id and manifest["format"] == "parquet"
    assert {c["name"]: c["n_edges"] for c in manifest["conditions"]} == \
        edges.groupby("condition").size().to_dict()
    assert [la["name"] for la in manifest["layers"]] == list(sizes)


def test_networkx_and_graphml_equal_the_ingested_tables(graph, ingested, tmp_path):
    run_id, edges, sizes = ingested
    export_run(graph, run_id, "networkx", tmp_path / "nx")
    export_run(graph, run_id, "graphml", tmp_path / "gml")
    for nxg in (load_networkx(tmp_path / "nx" / "graph.json"),
                  nx.read_graphml(tmp_path / "gml" / "graph.graphml", force_multigraph=True)):
        assert nxg.is_directed() and nxg.is_multigraph()
        assert nxg.number_of_nodes() == sum(sizes.values())
        rows = [{"condition": d["condition"], "pre_layer": nxg.nodes[a]["layer"],
                 "pre_idx": int(nxg.nodes[a]["idx"]), "post_layer": nxg.nodes[b]["layer"],
                 "post_idx": int(nxg.nodes[b]["idx"]), **{v: d[v] for v in VALUES}}
                for a, b, d in nxg.edges(data=True)]
        pd.testing.assert_frame_equal(_table(pd.DataFrame(rows)), _table(edges), check_dtype=False)


def test_adjacency_is_one_sparse_matrix_per_layer_pair_and_condition(graph, ingested, tmp_path):
    run_id, edges, sizes = ingested
    export_run(graph, run_id, "adjacency", tmp_path / "adj", conditions=["uniform:0.2"])
    index = json.loads((tmp_path / "adj" / "adjacency" / "index.json").read_text())
    expected = edges[edges.condition == "uniform:0.2"]
    pairs = expected.groupby(["pre_layer", "post_layer"])
    assert {(e["pre_layer"], e["post_layer"]) for e in index} == set(pairs.groups)
    for entry in index:
        assert entry["condition"] == "uniform:0.2" and entry["values"] == "z"
        matrix = sp.load_npz(tmp_path / "adj" / "adjacency" / entry["file"]).tocoo()
        assert matrix.shape == (sizes[entry["pre_layer"]], sizes[entry["post_layer"]])
        part = pairs.get_group((entry["pre_layer"], entry["post_layer"]))
        got = sorted(zip(matrix.row.tolist(), matrix.col.tolist(), matrix.data.tolist(), strict=True))
        want = sorted(zip(part.pre_idx, part.post_idx, part.z, strict=True))
        assert got == want and entry["nnz"] == len(part)


def test_cli_export_and_errors(graph, ingested, tmp_path):
    run_id, edges, _ = ingested
    out = tmp_path / "cli"
    result = runner.invoke(app, ["export", run_id, "--format", "parquet", "--out", str(out),
                                 "--condition", "clean", "--no-progress"])
    assert result.exit_code == 0, result.output
    exported = pd.read_parquet(out / "edges.parquet")
    assert set(exported.condition) == {"clean"}
    assert len(exported) == int((edges.condition == "clean").sum())
    bad = runner.invoke(app, ["export", run_id, "-f", "parquet", "-o", str(out), "-c", "fgsm:1"])
    assert bad.exit_code == 2 and "no condition 'fgsm:1'" in bad.output
    bad = runner.invoke(app, ["export", run_id, "-f", "csv", "-o", str(out)])
    assert bad.exit_code == 2
    with pytest.raises(FcgraphError, match="not in the graph"):
        export_run(graph, "no-such-run", "parquet", Path(tmp_path / "none"))
