"""`fcgraph fc`: a real tiny recording end to end into Neo4j, resume, one-line errors (exit 2)."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fcgraph.cli import app
from fcgraph.contract import read_manifest
from fcgraph.graph.ingest import delete_run, ingest_run
from tests.helpers.tiny import CONDITIONS

runner = CliRunner()


@pytest.fixture
def rec_dir(tiny_recording, tmp_path):
    out = tmp_path / "rec"
    shutil.copytree(tiny_recording, out)
    return out


def test_fc_command_writes_tables_and_resumes(rec_dir):
    args = ["fc", str(rec_dir), "--null", "exact", "--measure", "pearson", "--top-k", "20",
            "--candidates", "receptive-field", "--backend", "numpy", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = read_manifest(rec_dir)
    params = manifest.fc["parameters"]
    assert params["measure"] == "pearson" and params["null"] == "exact" and params["top_k"] == 20
    assert params["candidates"] == "receptive-field" and params["shift_unit"] == "T"
    for condition in CONDITIONS:
        rows = pq.read_table(rec_dir / manifest.fc["edges"][condition]).num_rows
        assert rows == sum(p["edges"] for p in manifest.fc["layer_pairs"][condition])
        assert all(p["candidates"] == ("all" if p["post_layer"] == "fc1.sn" else "receptive-field")
                   for p in manifest.fc["layer_pairs"][condition])
        assert all(p["backend"] == "numpy" and p["backend_detail"] == ""
                   for p in manifest.fc["layer_pairs"][condition])
        assert all(p["threshold"]["rule"] == "control" and p["threshold"]["z"] >= 3.0
                   for p in manifest.fc["layer_pairs"][condition])
    assert "ingest with" in result.output
    assert result.output.startswith("backend: numpy\n")
    again = runner.invoke(app, args)
    n = 2 * (len(manifest.layers) - 1)
    assert again.exit_code == 0 and f"{n} of {n} layer pairs were finished by an earlier run" in again.output
    other = runner.invoke(app, [*args, "--z", "4"])
    assert other.exit_code == 1 and "--restart" in other.output


@pytest.mark.neo4j
def test_fc_output_ingests_into_neo4j(rec_dir, driver, graph, run_id):
    # give the copy its own run id so concurrent test runs never share a graph
    import json

    data = json.loads((rec_dir / "manifest.json").read_text())
    data["run_id"] = run_id
    (rec_dir / "manifest.json").write_text(json.dumps(data))
    result = runner.invoke(app, ["fc", str(rec_dir), "--null", "exact", "-c", "clean,uniform:0.2",
                                 "--top-k", "8", "--backend", "numpy", "--no-progress"])
    assert result.exit_code == 0, result.output
    manifest = read_manifest(rec_dir)
    try:
        summary = ingest_run(graph, rec_dir)
        assert list(summary.action) == ["loaded", "loaded"]
        for condition in CONDITIONS:
            table = pq.read_table(rec_dir / manifest.fc["edges"][condition])
            got = driver.execute_query(
                "MATCH (c:Condition {run_id: $r, name: $c}) "
                "MATCH (:Neuron {run_id: $r})-[e:FC]->() WHERE e.condition = $c AND e.gen = c.gen "
                "RETURN count(e) AS n", r=run_id, c=condition).records[0]["n"]
            assert got == table.num_rows > 0
        row = pq.read_table(rec_dir / manifest.fc["edges"]["clean"]).slice(3, 1).to_pylist()[0]
        edge = driver.execute_query(
            "MATCH (a:Neuron {uid: $a})-[e:FC {condition: 'clean'}]->(b:Neuron {uid: $b}) "
            "RETURN properties(e) AS p", a=f"{run_id}/{row['pre_layer']}/{row['pre_idx']}",
            b=f"{run_id}/{row['post_layer']}/{row['post_idx']}").records
        assert len(edge) == 1 and edge[0]["p"]["z"] == row["z"] and edge[0]["p"]["cofire"] == row["cofire"]
        run = driver.execute_query("MATCH (r:Run {run_id: $r}) RETURN properties(r) AS p",
                                   r=run_id).records[0]["p"]
        assert run["fc_null"] == "exact" and run["fc_top_k"] == 8
        neuron = driver.execute_query(
            "MATCH (n:Neuron {uid: $u}) RETURN n.spike_count AS s, n.rate AS r",
            u=f"{run_id}/fc1.sn/0").records[0]
        assert neuron["s"] >= 0 and neuron["r"] == pytest.approx(neuron["s"] / (4 * 32))
    finally:
        delete_run(graph, run_id)


@pytest.mark.parametrize(("args", "message"), [
    (["--measure", "phi"], "'phi' is not one of 'sttc', 'pearson', 'cofire'"),
    (["--null", "gauss"], "'gauss' is not one of 'exact', 'shift', 'trial'"),
    (["--shift-unit", "2"], "'2' is not one of 'T', '1'"),
    (["--fdr", "2"], "fdr must lie in (0, 1)"),
    (["--pairs", "all"], "'all' is not one of 'consecutive', 'feeders'"),
    (["--candidates", "rf"], "'rf' is not one of 'all', 'receptive-field'"),
    (["--backend", "tpu"], "unknown backend 'tpu'"),
    (["-c", "clean,fgsm:0.1"], "no condition 'fgsm:0.1'"),
    (["--null", "shift", "--min-shift", "100000"], "no shift of at least 100000 bins"),
    (["--z", "-1"], "z must be a positive number"),
    (["--threshold", "exact"], "'exact' is not one of 'control', 'normal'"),
])
def test_bad_arguments_are_one_line_errors(rec_dir, args, message):
    result = runner.invoke(app, ["fc", str(rec_dir), "--no-progress", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.strip().startswith("error:") and len(result.output.strip().splitlines()) == 1
    assert not (rec_dir / "fc").exists()


def test_missing_recording_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["fc", str(tmp_path / "none"), "--no-progress"])
    assert result.exit_code == 2 and "does not exist" in result.output
    plain = tmp_path / "plain"
    plain.mkdir()
    result = runner.invoke(app, ["fc", str(plain), "--no-progress"])
    assert result.exit_code == 1 and "no manifest" in result.output
