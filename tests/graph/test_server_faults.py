"""The local Neo4j under a new user's accidents, against real servers of their own.

Passwords that a command line would misread, two starts at once, Neo4j killed (idle, while
starting, in the middle of a load), a server left running without its server.json, a stale
pid, a wrong Java. Each test asserts the exact outcome: one line of error where something
failed, and the graph exactly as expected afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fcgraph.db import server
from fcgraph.db.server import free_port
from fcgraph.errors import BadArgument
from fcgraph.graph.connection import Connection, Graph, read_credentials
from fcgraph.graph.ingest import ingest_run
from fcgraph.io import pid_alive
from fcgraph.paths import state_dir
from fcgraph.synthetic import make_synthetic_run
from tests.helpers.graph import all_edge_count, graph_dump, live_edge_count, table_rows

pytestmark = [pytest.mark.faults, pytest.mark.neo4j]

DASH_PASSWORD = "-starts-with-a-dash"  # what neo4j-admin once took for an option
ODD_PASSWORD = " sp ace \"dq\" 'sq' back\\slash #hash $HOME;&|`x` @at ü€ -x"


def fcgraph_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "fcgraph.cli", *args]


def new_state(tmp: Path) -> Path:
    """A state folder of its own that reuses the test server's jars (fetched once)."""
    state = tmp / "state"
    (state / "neo4j").mkdir(parents=True)
    (state / "neo4j" / "lib").symlink_to(server.install(state_dir()))
    return state


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    assert "Traceback" not in stderr
    return lines[0]


def wait_until(predicate, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def shell_eval_password(state: Path) -> str:
    """NEO4J_PASSWORD as a shell gets it from ``eval "$(fcgraph db credentials --show)"``."""
    script = f'eval "$({" ".join(fcgraph_cmd("db", "credentials", "--show"))} --state-dir \'{state}\')" ' \
             '&& printf %s "$NEO4J_PASSWORD"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout


def connects(uri: str, password: str) -> bool:
    with Graph.open(Connection(uri=uri, user="neo4j", password=password)) as graph:
        return graph.driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1


def test_generated_passwords_are_letters_and_digits():
    drawn = [server.generate_password() for _ in range(2000)]
    assert all(len(pw) == 32 and pw.isascii() and pw.isalnum() for pw in drawn)
    assert len(set(drawn)) == len(drawn)
    assert set("".join(drawn)) == set(server.PASSWORD_ALPHABET)  # every character is drawn


@pytest.mark.parametrize(("password", "message"), [
    ("short", "at least 8 characters"), ("line\nbreak", "control character"),
    ("tab\tinside", "control character")])
def test_unusable_user_passwords_are_refused_before_anything_runs(tmp_path, password, message):
    with pytest.raises(BadArgument, match=message):
        server.start(tmp_path / "state", initial_password=password)
    assert not (tmp_path / "state").exists()


@pytest.fixture(scope="module")
def fault_server(tmp_path_factory):
    """A second local server, first started by two `fcgraph db start` at once with a password
    that begins with '-'. Yields (state, bolt port, the two start commands' results)."""
    state = new_state(tmp_path_factory.mktemp("faults"))
    bolt, http = free_port(), free_port()
    env = {**os.environ, "FCGRAPH_INITIAL_PASSWORD": DASH_PASSWORD}
    for key in ("NEO4J_URI", "NEO4J_PASSWORD", "NEO4J_USER"):
        env.pop(key, None)
    cmd = fcgraph_cmd("db", "start", "--state-dir", str(state), "--bolt-port", str(bolt),
                      "--http-port", str(http))
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    yield state, bolt, results
    server.stop(state)


def test_two_starts_at_once_start_one_server_with_a_dash_password(fault_server):
    state, bolt, results = fault_server
    for code, out, err in results:
        assert code == 0, err
        assert DASH_PASSWORD not in out + err
    pids = {out.split("(pid ")[1].split(")")[0] for _, out, _ in results}
    layout = server.ServerLayout.of(state)
    assert len(pids) == 1 and server._server_processes(layout) == [int(pids.pop())]
    assert connects(f"bolt://127.0.0.1:{bolt}", DASH_PASSWORD)
    assert read_credentials(layout.credentials)["NEO4J_PASSWORD"] == DASH_PASSWORD
    assert shell_eval_password(state) == DASH_PASSWORD
    for path in [*layout.logs.glob("*.log"), layout.info_file, layout.conf / "neo4j.conf"]:
        assert DASH_PASSWORD not in path.read_text(errors="replace"), path
    assert not list(layout.root.glob("*.args"))  # the argument file is gone


def test_another_initial_password_for_an_existing_database_is_refused(fault_server):
    state, _, _ = fault_server
    result = subprocess.run(fcgraph_cmd("db", "start", "--state-dir", str(state)),
                            env={**os.environ, "FCGRAPH_INITIAL_PASSWORD": "another-password"},
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "--initial-password" in one_error_line(result.stderr)


def load_small_run(graph, root: Path, run_id: str, fan_in: int = 4) -> dict:
    make_synthetic_run(root, run_id, layers=(("a", (2, 4, 4)), ("b", (12,)), ("c", (6,))),
                       conditions=("clean",), fan_in=fan_in)
    ingest_run(graph, root)
    return graph_dump(graph, run_id)


def test_neo4j_killed_idle_leaves_a_stale_pid_and_the_next_start_recovers(fault_server, tmp_path):
    state, bolt, _ = fault_server
    conn = server.local_connection(state)
    with Graph.open(conn) as graph:
        before = load_small_run(graph, tmp_path / "idle", "idle")
    pid = server.status(state).pid
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), 30, "the kill")
    assert server._read_info(server.ServerLayout.of(state))["pid"] == pid  # stale pid file
    status = subprocess.run(fcgraph_cmd("db", "status", "--state-dir", str(state)),
                            capture_output=True, text=True)
    assert status.returncode == 3 and "False" in status.stdout
    started = subprocess.run(fcgraph_cmd("db", "start", "--state-dir", str(state)),
                             capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    with Graph.open(conn) as graph:
        assert graph_dump(graph, "idle") == before


def test_neo4j_killed_while_starting_then_started_again(fault_server, tmp_path):
    state, bolt, _ = fault_server
    layout = server.ServerLayout.of(state)
    assert server.stop(state)
    proc = subprocess.Popen(fcgraph_cmd("db", "start", "--state-dir", str(state)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: server._server_processes(layout), 60, "the Java process")
    os.kill(server._server_processes(layout)[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    line = one_error_line(err)
    assert "Neo4j exited during start" in line and "console.log" in line
    again = subprocess.run(fcgraph_cmd("db", "start", "--state-dir", str(state)),
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert connects(f"bolt://127.0.0.1:{bolt}", DASH_PASSWORD)


def test_neo4j_killed_mid_ingest_keeps_the_previous_graph_and_a_rerun_is_exact(fault_server, tmp_path):
    state, bolt, _ = fault_server
    conn = server.local_connection(state)
    with Graph.open(conn) as graph:
        earlier = load_small_run(graph, tmp_path / "earlier", "earlier")
    root = tmp_path / "big"
    layers = (("a", (16, 8, 8)), ("b", (32, 4, 4)), ("c", (256,)))
    manifest = make_synthetic_run(root, "big", layers=layers, conditions=("clean",), fan_in=40)
    expected = table_rows(manifest.edge_files(root)["clean"])
    env = {**os.environ, "NEO4J_URI": conn.uri, "NEO4J_USER": conn.user,
           "NEO4J_PASSWORD": conn.password or ""}
    proc = subprocess.Popen(fcgraph_cmd("ingest", str(root), "--batch-size", "500", "--workers", "1",
                                        "--no-progress"),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with Graph.open(conn) as graph:
        wait_until(lambda: graph.driver.execute_query(
            "MATCH (b:IngestBatch) WHERE b.load STARTS WITH 'big/clean@' RETURN count(b) AS n"
        ).records[0]["n"] >= 3, 120, "three committed batches")
    os.kill(server.status(state).pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert conn.password not in err
    one_error_line(err)
    assert subprocess.run(fcgraph_cmd("db", "start", "--state-dir", str(state)),
                          capture_output=True).returncode == 0
    with Graph.open(conn) as graph:
        assert graph_dump(graph, "earlier") == earlier  # the previous graph is intact
        assert live_edge_count(graph, "big", "clean") == 0  # and nothing half-loaded is visible
        result = ingest_run(graph, root)
        assert list(result.action) == ["resumed"]
        assert live_edge_count(graph, "big", "clean") == expected
        assert all_edge_count(graph, "big") == expected


def test_a_server_left_running_without_its_server_json_is_found(fault_server):
    state, bolt, _ = fault_server
    layout = server.ServerLayout.of(state)
    pid = server.status(state).pid
    for damage in ("missing", "stale"):
        if damage == "missing":
            layout.info_file.unlink()  # a crashed `fcgraph` never wrote it
        else:  # a pid from another life: no such process
            layout.info_file.write_text('{"pid": 999999999, "bolt_port": 1, "http_port": 2}')
        status = subprocess.run(fcgraph_cmd("db", "status", "--state-dir", str(state)),
                                capture_output=True, text=True)
        assert status.returncode == 0 and str(pid) in status.stdout, status.stdout
        again = subprocess.run(fcgraph_cmd("db", "start", "--state-dir", str(state)),
                               capture_output=True, text=True)
        assert again.returncode == 0 and f"(pid {pid})" in again.stdout, again.stdout + again.stderr
        assert server._server_processes(layout) == [pid]
    layout.info_file.unlink()
    stopped = subprocess.run(fcgraph_cmd("db", "stop", "--state-dir", str(state)),
                             capture_output=True, text=True)
    assert stopped.returncode == 0 and "Neo4j stopped" in stopped.stdout
    assert server._server_processes(layout) == []
    assert server.start(state).running


def test_a_password_with_any_printable_characters(tmp_path):
    state = new_state(tmp_path)
    bolt = free_port()
    try:
        status = server.start(state, bolt_port=bolt, http_port=free_port(), heap="512m",
                              pagecache="64m", initial_password=ODD_PASSWORD)
        assert status.running
        assert connects(f"bolt://127.0.0.1:{bolt}", ODD_PASSWORD)
        assert shell_eval_password(state) == ODD_PASSWORD
        layout = server.ServerLayout.of(state)
        assert read_credentials(layout.credentials)["NEO4J_PASSWORD"] == ODD_PASSWORD
        sourced = subprocess.run(["bash", "-c", f". '{layout.credentials}' && printf %s "
                                                '"$NEO4J_PASSWORD"'],
                                 capture_output=True, text=True, check=True).stdout
        assert sourced == ODD_PASSWORD
    finally:
        server.stop(state)


def fake_java(tmp: Path, version_line: str) -> Path:
    home = tmp / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return home


@pytest.mark.parametrize(("java_home", "message"), [
    ("jdk11", "is Java 11"), ("jdk8", "is Java 8"), ("missing", "has no bin/java")])
def test_a_wrong_java_is_one_line(tmp_path, java_home, message):
    versions = {"jdk11": 'openjdk version "11.0.20" 2023-07-18', "jdk8": 'java version "1.8.0_381"'}
    home = fake_java(tmp_path, versions[java_home]) if java_home in versions else tmp_path / "nojdk"
    result = subprocess.run(fcgraph_cmd("db", "start", "--state-dir", str(tmp_path / "state"),
                                        "--bolt-port", str(free_port())),
                            env={**os.environ, "JAVA_HOME": str(home)}, capture_output=True, text=True)
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert message in line and "JAVA_HOME" in line
    assert not (tmp_path / "state" / "neo4j" / "home").exists()
