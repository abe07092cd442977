"""The bulk path: a run added to a graph that holds another, by an offline rebuild of the local
server's store, gives exactly the graph the online loader builds; a kill at any point leaves
the previous graph readable, and a rerun ends with the expected graph."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcgraph.db import server
from fcgraph.db.bulk import bulk_ingest
from fcgraph.db.load import choose_method
from fcgraph.db.server import free_port
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.graph.connection import Graph
from fcgraph.graph.ingest import delete_run, ingest_run
from fcgraph.paths import state_dir
from fcgraph.synthetic import make_synthetic_run
from tests.helpers.graph import graph_dump

pytestmark = [pytest.mark.slow, pytest.mark.neo4j]


@pytest.fixture
def bulk_state(tmp_path: Path, neo4j_conn) -> Iterator[Path]:
    """A second local server (own state folder and ports, the test server's jars), started."""
    shared = server.ServerLayout.of(state_dir()).lib
    if not (shared / ".complete").exists():
        pytest.skip("no Neo4j jars installed by fcgraph db install")
    state = tmp_path / "state"
    (state / "neo4j").mkdir(parents=True)
    os.symlink(shared, server.ServerLayout.of(state).lib)
    server.start(state, bolt_port=free_port(), http_port=free_port(), heap="512m",
                 pagecache="128m")
    yield state
    server.stop(state)


@pytest.fixture
def runs(tmp_path: Path, tiny_run) -> tuple[Path, Path]:
    """A: a synthetic run with silent neurons; B: a copy of an analysed recording."""
    a = tmp_path / "a"
    make_synthetic_run(a, "bulk-a", conditions=("clean", "uniform:0.2"), fan_in=4, silent=0.1)
    b = tmp_path / "b"
    shutil.copytree(tiny_run.full, b)
    return a, b


def dumps(state: Path, *run_ids: str) -> dict[str, dict]:
    with Graph.open(server.local_connection(state)) as graph:
        return {r: graph_dump(graph, r) for r in run_ids}


def test_bulk_adds_a_run_beside_another_exactly_as_online(bulk_state, runs, tiny_run):
    a, b = runs
    with Graph.open(server.local_connection(bulk_state)) as graph:
        ingest_run(graph, a, top_k=3)  # online, a browsing subset: kept as it was
        ingest_run(graph, b)
        online = {"bulk-a": graph_dump(graph, "bulk-a"), tiny_run.run_id: graph_dump(graph, tiny_run.run_id)}
        delete_run(graph, tiny_run.run_id)
    result = bulk_ingest(bulk_state, b)
    assert set(result.action) == {"loaded"} and result.edges.sum() > 0
    assert dumps(bulk_state, "bulk-a", tiny_run.run_id) == online
    assert set(bulk_ingest(bulk_state, b).action) == {"unchanged"}
    assert not (server.ServerLayout.of(bulk_state).root / "rebuild").exists()


def test_bulk_refuses_a_graph_it_cannot_rebuild_and_leaves_it(bulk_state, runs, tiny_run):
    a, b = runs
    with Graph.open(server.local_connection(bulk_state)) as graph:
        ingest_run(graph, a)
        before = graph_dump(graph, "bulk-a")
    shutil.move(a, a.with_name("elsewhere"))
    with pytest.raises(FcgraphError, match=r"run 'bulk-a' in the graph cannot be rebuilt from "
                                           r"files: its folder .* is gone; add this run with "
                                           r"the online loader"):
        bulk_ingest(bulk_state, b)
    assert server.status(bulk_state).running
    assert dumps(bulk_state, "bulk-a") == {"bulk-a": before}


@pytest.mark.faults
@pytest.mark.parametrize("point", ["bulk.exported", "bulk.imported", "bulk.swapping",
                                   "bulk.swapping:2", "bulk.swapped"])
def test_sigkill_of_a_bulk_load_keeps_the_previous_graph(bulk_state, runs, tiny_run,
                                                         fcgraph_cli, point):
    a, b = runs
    with Graph.open(server.local_connection(bulk_state)) as graph:
        ingest_run(graph, a)
        before = graph_dump(graph, "bulk-a")
    args = ["ingest", str(b), "--method", "bulk", "--state-dir", str(bulk_state), "--no-progress"]
    conn = server.local_connection(bulk_state)
    env = {"NEO4J_URI": conn.uri, "NEO4J_USER": conn.user, "NEO4J_PASSWORD": conn.password or ""}
    killed = fcgraph_cli(*args, fault=point, env=env)
    assert killed.returncode == -9, killed.stderr
    server.start(bulk_state)  # a kill during the swap: the start puts the previous store back
    with Graph.open(server.local_connection(bulk_state)) as graph:
        assert graph_dump(graph, "bulk-a") == before
        assert not graph_dump(graph, tiny_run.run_id)["nodes"]
    rerun = fcgraph_cli(*args, env=env)
    assert rerun.returncode == 0, rerun.stderr
    with Graph.open(server.local_connection(bulk_state)) as graph:
        assert graph_dump(graph, "bulk-a") == before
        loaded = graph_dump(graph, tiny_run.run_id)
        delete_run(graph, tiny_run.run_id)
        ingest_run(graph, b)
        assert graph_dump(graph, tiny_run.run_id) == loaded


def test_memory_rule():
    gib = 1 << 30
    assert server.memory_for_store(0, 16 * gib) == ("1024m", "512m")
    assert server.memory_for_store(2 * gib, 16 * gib) == ("1024m", f"{int(2.4 * 1024)}m")
    assert server.memory_for_store(10 * gib, 16 * gib) == ("2048m", f"{int(0.4 * 16 * 1024)}m")


def test_bulk_is_refused_for_a_server_that_is_not_the_local_one(tmp_path):
    from tests.helpers.cli import invoke

    out = invoke(["ingest", str(tmp_path), "--method", "bulk", "--uri", "bolt://127.0.0.1:1",
                  "--state-dir", str(tmp_path / "state"), "--no-progress"], exit_code=2)
    assert out.stderr.strip() == ("error: --method bulk: bolt://127.0.0.1:1 is not fcgraph's "
                                  "local server (its store cannot be rebuilt from here); use "
                                  "--method online")


def test_the_load_method_rule(bulk_state, runs, neo4j_conn):
    """auto: bulk only for the local server and a load of at least min_bulk_edges edges."""
    a, _ = runs
    local = server.local_connection(bulk_state)
    assert choose_method("auto", bulk_state, local, a) == "online"  # a few thousand edges
    assert choose_method("auto", bulk_state, local, a, min_bulk_edges=1) == "bulk"
    assert choose_method("auto", bulk_state, local, a, top_k=1, min_bulk_edges=10**5) == "online"
    assert choose_method("auto", bulk_state, neo4j_conn, a, min_bulk_edges=1) == "online"
    assert choose_method("online", bulk_state, local, a, min_bulk_edges=1) == "online"
    with pytest.raises(BadArgument):
        choose_method("bulk", bulk_state, neo4j_conn, a)
