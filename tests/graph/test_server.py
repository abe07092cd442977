"""The local Neo4j: credentials, idempotent start, clean stop, one-line errors, bulk import."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcgraph.cli import app
from fcgraph.contract import read_manifest
from fcgraph.db import server
from fcgraph.db.server import free_port
from fcgraph.graph.connection import Graph, read_credentials, resolve_connection
from fcgraph.graph.import_files import write_import_files
from fcgraph.graph.ingest import ingest_run
from fcgraph.paths import state_dir
from fcgraph.synthetic import make_synthetic_run
from tests.helpers.graph import graph_dump

runner = CliRunner()


@pytest.fixture(scope="module")
def local_state(neo4j_conn) -> Path:
    """The state folder of the server scripts/test.sh started (FCGRAPH_STATE_DIR)."""
    state = state_dir()
    if not server.ServerLayout.of(state).credentials.exists():
        pytest.skip("the test Neo4j was not started by fcgraph db start")
    return state


def test_credentials_are_private_and_printed_only_on_request(local_state):
    layout = server.ServerLayout.of(local_state)
    mode = stat.S_IMODE(layout.credentials.stat().st_mode)
    assert mode == 0o600
    password = read_credentials(layout.credentials)["NEO4J_PASSWORD"]
    quiet = runner.invoke(app, ["db", "credentials"])
    assert quiet.exit_code == 0
    assert password not in quiet.output and str(layout.credentials.name) in quiet.output
    shown = runner.invoke(app, ["db", "credentials", "--show"])
    lines = shown.output.strip().splitlines()
    assert [ln.split("=")[0] for ln in lines] == ["NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"]
    assert lines[2] == f"NEO4J_PASSWORD={password}"


def test_password_never_in_logs_or_status(local_state):
    layout = server.ServerLayout.of(local_state)
    password = read_credentials(layout.credentials)["NEO4J_PASSWORD"]
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 0 and password not in status.output
    for path in [*layout.logs.glob("*.log"), layout.info_file, layout.conf / "neo4j.conf"]:
        assert password not in path.read_text(errors="replace"), path
    assert password not in repr(resolve_connection())


def test_start_is_idempotent_and_status_reports(local_state):
    before = server.status(local_state)
    assert before.running and before.pid
    result = runner.invoke(app, ["db", "start"])
    assert result.exit_code == 0, result.output
    after = server.status(local_state)
    assert after.pid == before.pid
    assert after.version and after.version.startswith("5.26")
    assert after.nodes is not None and after.relationships is not None
    assert "running" in runner.invoke(app, ["db", "status"]).output


def test_the_servers_temp_files_stay_in_its_home(local_state):
    """Jetty unpacks the Browser into java.io.tmpdir: the server's home/tmp, so nothing of the
    server is left in /tmp."""
    layout = server.ServerLayout.of(local_state)
    if not server.status(local_state).browser_url:
        pytest.skip("this server serves no Browser (nothing for Jetty to unpack)")
    assert list((layout.home / "tmp").glob("jetty-*")), "Jetty's folder is not in home/tmp"


def test_unreachable_server_is_one_line_error():
    port = free_port()
    result = runner.invoke(app, ["db", "init", "--uri", f"bolt://127.0.0.1:{port}",
                                 "--password", "whatever"])
    assert result.exit_code == 1
    assert "cannot reach Neo4j" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2


def test_wrong_password_is_one_line_error(neo4j_conn):
    result = runner.invoke(app, ["db", "init", "--uri", neo4j_conn.uri, "--password", "wrong-pw"])
    assert result.exit_code == 1
    assert "wrong password" in result.output and "wrong-pw" not in result.output


def test_missing_java_names_docker_compose(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    with pytest.raises(server.FcgraphError, match="docker compose up"):
        server.java_executable()
    result = runner.invoke(app, ["db", "start", "--state-dir", str(tmp_path / "state"),
                                 "--bolt-port", str(free_port())],
                           env={"PATH": str(tmp_path), "JAVA_HOME": ""})
    assert result.exit_code == 1 and "docker compose up" in result.output


def test_missing_maven_names_docker_compose(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(server.FcgraphError, match="docker compose up"):
        server.install(tmp_path / "state")


@pytest.mark.slow
@pytest.mark.parametrize("source", ["synthetic", "analysed-recording"])
def test_stop_keeps_data_and_bulk_import_matches_unwind(local_state, tmp_path, tiny_run, source):
    """A second server: UNWIND ingest, stop, start (nothing lost); then the same run through
    export-csv + neo4j-admin import gives the same graph: a synthetic run with silent neurons
    (so silent_in, weakened_in and silenced_in lists), and a recording with fc and analyze
    output (the analysis properties on neurons, layers and the run)."""
    state = tmp_path / "state"
    lib = server.ServerLayout.of(local_state).lib
    (state / "neo4j").mkdir(parents=True)
    os.symlink(lib, server.ServerLayout.of(state).lib)  # reuse the jars fetched once
    bolt, http = free_port(), free_port()
    run_root = tmp_path / "run"
    if source == "synthetic":
        make_synthetic_run(run_root, "csvrun", conditions=("clean", "uniform:0.2"), fan_in=5,
                           silent=0.1)
    else:
        shutil.copytree(tiny_run.full, run_root)
    run_id = read_manifest(run_root).run_id
    try:
        server.start(state, bolt_port=bolt, http_port=http, heap="512m", pagecache="128m")
        conn = server.local_connection(state)
        with Graph.open(conn) as graph:
            ingest_run(graph, run_root)
            via_unwind = graph_dump(graph, run_id)
            lists = graph.driver.execute_query(
                "MATCH (n:Neuron {run_id: $r}) WHERE n.silent_in IS NOT NULL RETURN count(n) AS n",
                r=run_id).records[0]["n"]
            analysed = graph.driver.execute_query(
                "MATCH (n:Neuron {run_id: $r}) WHERE n.analysed RETURN count(n) AS n",
                r=run_id).records[0]["n"]
            assert lists > 0 if source == "synthetic" else analysed > 0
        assert server.stop(state)
        assert not server.status(state).running
        server.start(state, bolt_port=bolt, http_port=http, heap="512m", pagecache="128m")
        with Graph.open(conn) as graph:
            assert graph_dump(graph, run_id) == via_unwind
        assert server.stop(state)
        write_import_files(run_root, tmp_path / "csv")
        summary = server.import_csv(state, tmp_path / "csv")
        assert "relationships" in summary
        server.start(state, bolt_port=bolt, http_port=http, heap="512m", pagecache="128m")
        with Graph.open(conn) as graph:  # the password survived the import
            assert graph_dump(graph, run_id) == via_unwind
            again = ingest_run(graph, run_root)  # the loader recognises the imported run
            assert set(again.action) == {"unchanged"}
    finally:
        server.stop(state)


def test_a_reused_pid_is_not_taken_for_the_server(tmp_path):
    state = tmp_path / "state"
    layout = server.ServerLayout.of(state)
    layout.root.mkdir(parents=True)
    layout.info_file.write_text(f'{{"pid": {os.getpid()}, "bolt_port": 1, "http_port": 2}}')
    assert not server.status(state).running
    assert server.stop(state) is False
