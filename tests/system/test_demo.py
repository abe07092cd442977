"""`fcgraph demo` end to end on a tiny model: every stage runs, the graph is loaded, a rerun reuses all."""

from __future__ import annotations

import pyarrow.parquet as pq
from typer.testing import CliRunner

from fcgraph.cli import app
from fcgraph.contract import read_manifest
from fcgraph.graph.ingest import delete_run
from tests.helpers.cli import env_of

runner = CliRunner()

QUICK = ["--model", "tiny", "--epochs", "1", "--lr", "0.02", "--train-limit", "512", "--split", "test",
         "--n-images", "48", "-c", "clean", "-c", "uniform:0.2", "--top-k", "3", "--no-progress"]


def test_demo_runs_every_stage_and_reuses_them(driver, graph, neo4j_conn, tmp_path):
    root = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--root", str(root), *QUICK], env=env_of(neo4j_conn))
    run_id = None
    try:
        assert result.exit_code == 0, result.output
        rec = root / "recording"
        manifest = read_manifest(rec)
        run_id = manifest.run_id
        text = " ".join(result.output.split())
        for heading in ("1/6 train", "2/6 record", "3/6 functional", "4/6 analysis", "5/6 Neo4j",
                        "6/6 named queries", "layer_summary", "edge_loss", "report.html",
                        "backend: numpy"):
            assert heading in text, heading
        lines = result.output.splitlines()
        hint = next(i for i, line in enumerate(lines) if "offline view" in line)
        assert lines[hint + 1].strip() == (f"fcgraph view {run_id} --layer-pair fc1.sn fc2.sn "
                                           "--out view.html"), lines[hint:]  # whole, one line
        assert (rec / "analysis" / "analysis.json").exists()
        assert (rec / "analysis" / "report.html").exists()
        on_disk = {name: pq.ParquetFile(path).metadata.num_rows
                   for name, path in manifest.edge_files(rec).items()}
        loaded = {r["name"]: r["n"] for r in driver.execute_query(
            "MATCH (c:Condition {run_id: $run_id}) RETURN c.name AS name, c.n_edges AS n",
            run_id=run_id).records}
        assert set(loaded) == {"clean", "uniform:0.2"}
        for name, n in loaded.items():
            assert 0 < n <= on_disk[name]  # the top-3 selection of the full table
        top = driver.execute_query(
            "MATCH (:Neuron)-[r:FC {condition: 'clean'}]->(m:Neuron {run_id: $run_id}) "
            "WITH m, count(r) AS k RETURN max(k) AS k", run_id=run_id).records[0]["k"]
        assert top <= 3
        again = runner.invoke(app, ["demo", "--root", str(root), *QUICK], env=env_of(neo4j_conn))
        assert again.exit_code == 0, again.output
        assert "(reused)" in again.output and "unchanged" in again.output
    finally:
        if run_id:
            delete_run(graph, run_id)
