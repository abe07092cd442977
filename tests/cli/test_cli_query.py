"""`fcgraph query`: listing, parameters, output formats and one-line errors, on a real Neo4j."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator

import neo4j
import pytest
from typer.testing import CliRunner

from fcgraph.cli import app
from fcgraph.graph.connection import Graph
from tests.helpers.cli import env_of
from tests.helpers.query_runs import tiny_runs

runner = CliRunner()


@pytest.fixture(scope="module")
def runs(driver: neo4j.Driver, graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    with tiny_runs(graph, tmp_path_factory.mktemp("tiny-cli")) as ids:
        yield ids


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_list_prints_one_line_per_query():
    result = runner.invoke(app, ["query", "--list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["compare_runs", "edge_loss", "ensemble",
                                                   "gain_by_size", "hubs", "layer_summary",
                                                   "lost_pathways", "pathways", "top_ensembles"]
    params = runner.invoke(app, ["query", "hubs", "--list"])
    assert params.exit_code == 0
    assert params.stdout.splitlines()[2].startswith("direction: string(in|out) = out")


def test_show_cypher_dry_run_needs_no_server():
    result = runner.invoke(app, ["query", "ensemble", "-p", "run_id=r", "-p", "uid=r/h1/0",
                                 "--show-cypher", "--dry-run"],
                           env={"NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_PASSWORD": "x"})
    assert result.exit_code == 0, result.output
    assert "// name: ensemble" in result.stdout and "MATCH (c:Condition" in result.stdout
    assert '"limit": 1000' in result.stdout and '"uid": "r/h1/0"' in result.stdout


def test_table_csv_and_json_outputs(neo4j_conn, runs):
    a, _ = runs
    args = ["query", "ensemble", "--param", f"run_id={a}", "--param", f"uid={a}/h1/0"]
    table = runner.invoke(app, args, env=env_of(neo4j_conn))
    assert table.exit_code == 0, table.output
    # the table names neurons by layer/index; csv and json keep the uids
    assert "ensemble (3 rows; neurons as layer/index)" in table.stdout
    assert " in/2 " in table.stdout and f"{a}/in/2" not in table.stdout
    as_csv = runner.invoke(app, [*args, "--format", "csv"], env=env_of(neo4j_conn))
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["pre_uid"] for r in rows] == [f"{a}/in/{i}" for i in range(3)]
    assert [float(r["z"]) for r in rows] == [5.0, 4.0, 3.5]
    as_json = runner.invoke(app, [*args, "-f", "json", "-p", "limit=2", "-p", "min_z=3"],
                            env=env_of(neo4j_conn))
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert [r["z"] for r in data] == [5.0, 4.0] and data[0]["p"] is None


def test_lists_come_out_as_arrays(neo4j_conn, runs):
    a, _ = runs
    args = ["query", "pathways", "-p", f"run_id={a}", "-p", f"uid={a}/in/1",
            "-p", "target_layer=out", "-p", "k=2"]
    data = json.loads(runner.invoke(app, [*args, "-f", "json"], env=env_of(neo4j_conn)).stdout)
    assert data[0]["path"] == [f"{a}/in/1", f"{a}/h1/1", f"{a}/h2/0", f"{a}/out/0"]
    assert data[0]["z"] == [6.0, 5.5, 6.5] and data[0]["exhaustive"] is True
    rows = list(csv.DictReader(io.StringIO(
        runner.invoke(app, [*args, "-f", "csv"], env=env_of(neo4j_conn)).stdout)))
    assert json.loads(rows[1]["path"])[1] == f"{a}/h1/0"
    shown = runner.invoke(app, [*args, "-f", "json", "--show-cypher"], env=env_of(neo4j_conn))
    assert shown.exit_code == 0 and "// name: pathways" in shown.stderr
    assert len(json.loads(shown.stdout)) == 2  # stdout stays clean for pipes


@pytest.mark.parametrize("args, message", [
    (["hubs", "-p", "run_id=r", "-p", "direction=up"], "'direction' must be one of in, out"),
    (["hubs", "-p", "run_id=r", "-p", "bogus=1"], "has no parameter 'bogus'"),
    (["hubs", "-p", "run_id=r", "-p", "top=x"], "'top' expects an int"),
    (["hubs", "-p", "run_id"], "expected key=value"),
    (["hubs"], "needs parameter 'run_id'"),
    (["pathways", "-p", "run_id=r", "-p", "target_layer=out"], "exactly one of uid, source_layer"),
    (["nope"], "unknown query 'nope' (available: compare_runs, edge_loss"),
    ([], "give a query name"),
])
def test_bad_input_is_a_one_line_error(neo4j_conn, args, message):
    line = one_line_error(runner.invoke(app, ["query", *args], env=env_of(neo4j_conn)))
    assert message in line


def test_missing_run_and_condition_are_one_line_errors(neo4j_conn, runs):
    a, _ = runs
    line = one_line_error(runner.invoke(app, ["query", "edge_loss", "-p", f"run_id={a}",
                                              "-p", "condition=fgsm:0.2"],
                                        env=env_of(neo4j_conn)))
    assert f"run '{a}' has no condition 'fgsm:0.2'" in line
    line = one_line_error(runner.invoke(app, ["query", "layer_summary", "-p", "run_id=nope-x"],
                                        env=env_of(neo4j_conn)))
    assert "no run 'nope-x' in the graph" in line


def test_a_table_shows_the_usual_columns_and_columns_chooses(neo4j_conn, runs):
    a, _ = runs
    args = ["query", "ensemble", "--param", f"run_id={a}", "--param", f"uid={a}/h1/0"]
    table = runner.invoke(app, args, env=env_of(neo4j_conn))
    assert table.exit_code == 0, table.output
    header = next(line for line in table.stdout.splitlines() if "pre_uid" in line)
    assert "cofire" in header and "null_sd" not in header  # the header's table columns only
    assert "9 of 17 columns shown; all of them with --columns pre_uid," in table.stderr
    picked = runner.invoke(app, [*args, "--columns", "z,pre_uid", "-f", "csv"],
                           env=env_of(neo4j_conn))
    assert picked.exit_code == 0, picked.output
    rows = list(csv.DictReader(io.StringIO(picked.stdout)))
    assert list(rows[0]) == ["z", "pre_uid"] and [float(r["z"]) for r in rows] == [5.0, 4.0, 3.5]
    whole = runner.invoke(app, [*args, "-f", "csv"], env=env_of(neo4j_conn))
    assert len(next(csv.reader(io.StringIO(whole.stdout)))) == 17  # csv / json: every column
    line = one_line_error(runner.invoke(app, [*args, "--columns", "z,bogus"],
                                        env=env_of(neo4j_conn)))
    assert "--columns" in line and "'bogus'" in line and "pre_uid" in line


def test_every_table_column_is_one_the_query_returns():
    from fcgraph.graph.queries import get_query, list_queries

    for name in list_queries().name:
        spec = get_query(name)
        returned = spec.text[spec.text.rindex("RETURN"):]
        for column in spec.table:
            assert f"AS {column}" in returned or f" {column}," in returned \
                or returned.rstrip().endswith(column), (name, column)


def _in_a_terminal(args: list[str], env: dict[str, str], columns: int) -> str:
    """``fcgraph ARGS`` run in a pseudo-terminal ``columns`` wide: its output, colours stripped."""
    primary, secondary = pty.openpty()
    environ = {**os.environ, **env, "COLUMNS": str(columns), "LINES": "50", "NO_COLOR": "1"}
    with subprocess.Popen([sys.executable, "-m", "fcgraph", *args], stdin=secondary,
                          stdout=secondary, stderr=secondary, env=environ) as proc:
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closed: the process has ended
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=120)
    os.close(primary)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode()).replace("\r", "")


def test_tables_fit_a_100_column_terminal_with_short_neuron_labels(neo4j_conn, runs):
    """On a terminal 100 columns wide every row of the usual columns is one line, and neurons
    read as layer/index (the run's id is in the query already)."""
    from fcgraph.contract import neuron_label, neuron_uid

    assert neuron_label(neuron_uid("r1", "layer1.0.sn1", 12)) == "layer1.0.sn1/12"
    assert neuron_label("not a uid") == "not a uid" and neuron_label("r1/fc1") == "r1/fc1"
    a, b = runs
    for query in (["ensemble", "-p", f"uid={a}/h1/0"], ["hubs"], ["layer_summary"],
                  ["edge_loss", "-p", "condition=uniform:0.1"], ["compare_runs", "-p", f"other_run_id={b}"],
                  ["pathways", "-p", f"uid={a}/in/0", "-p", "target_layer=out", "-p", "k=3"]):
        out = _in_a_terminal(["query", *query, "-p", f"run_id={a}"], env_of(neo4j_conn), 100)
        lines = out.splitlines()
        rows = int(re.search(r"\((\d+) rows", out).group(1))
        body = [line for line in lines if line.startswith("│")]
        assert rows > 0 and len(body) == rows, (query, out)  # no row folded onto two lines
        assert all(len(line) <= 100 for line in lines if line.startswith(("│", "┃", "┏"))), out
        assert f"{a}/" not in "\n".join(body), out
