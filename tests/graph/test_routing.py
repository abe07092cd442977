"""The graph through a routing URI (``neo4j://``, as for a cluster or a managed service), tested
against the local server under that scheme: the run loads by the online path (writes in write
transactions, which a read transaction would refuse), the bulk path is refused in one line, and
the named queries run as read transactions (seen in the driver's own protocol log)."""

from __future__ import annotations

import dataclasses
import logging
import re

import pytest

from fcgraph.errors import FcgraphError
from fcgraph.graph import queries
from fcgraph.graph.connection import Graph
from fcgraph.graph.ingest import delete_run, ingest_run
from fcgraph.synthetic import make_synthetic_run
from tests.helpers.cli import env_of
from tests.helpers.graph import live_edge_count, table_rows

SMALL = (("a", (2, 4, 4)), ("b", (4, 2, 2)), ("c", (12,)))


@pytest.fixture
def routing_conn(neo4j_conn):
    if not neo4j_conn.uri.startswith("bolt://"):
        pytest.skip(f"the test server's URI is {neo4j_conn.uri}, not bolt://")
    return dataclasses.replace(neo4j_conn, uri="neo4j://" + neo4j_conn.uri.removeprefix("bolt://"))


class ProtocolLog(logging.Handler):
    """The driver's client messages (``C: BEGIN {...}``, ``C: RUN '...' {...} {...}``)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if " C: BEGIN" in message or " C: RUN" in message:
            self.lines.append(message)


def test_a_run_loads_and_answers_through_a_routing_uri(graph, routing_conn, run_id, tmp_path,
                                                       fcgraph_cli):
    root = tmp_path / "run"
    manifest = make_synthetic_run(root, run_id, layers=SMALL, conditions=("clean", "uniform:0.2"),
                                  fan_in=4)
    env = env_of(routing_conn)
    try:
        refused = fcgraph_cli("ingest", root, "--method", "bulk", env=env)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        assert "is not fcgraph's local server" in refused.stderr
        done = fcgraph_cli("ingest", root, env=env)  # auto: a routing URI takes the online path
        assert done.returncode == 0, done.stdout + done.stderr
        assert "online path" in done.stdout
        for name, path in manifest.edge_files(root).items():
            assert live_edge_count(graph, run_id, name) == table_rows(path)
        # what a direct (bolt://) load writes, the routed load wrote already
        assert list(ingest_run(graph, root).action) == ["unchanged", "unchanged"]
        uid = f"{run_id}/b/1"
        answer = fcgraph_cli("query", "ensemble", "--param", f"run_id={run_id}", "--param",
                             f"uid={uid}", "--format", "csv", env=env)
        assert answer.returncode == 0, answer.stdout + answer.stderr
        expected = queries.ensemble(graph, run_id, uid)
        assert len(answer.stdout.strip().splitlines()) == len(expected) + 1 > 1
    finally:
        delete_run(graph, run_id)


def test_named_queries_run_as_read_transactions_on_a_routing_driver(graph, routing_conn, run_id,
                                                                     tmp_path):
    root = tmp_path / "run"
    make_synthetic_run(root, run_id, layers=SMALL, conditions=("clean", "uniform:0.2"), fan_in=4)
    asks = {  # each named query, as a function of the graph handle
        "ensemble": lambda g: queries.ensemble(g, run_id, f"{run_id}/b/1"),
        "edge_loss": lambda g: queries.edge_loss(g, run_id, "uniform:0.2"),
        "hubs": lambda g: queries.hubs(g, run_id),
        "strongest_paths": lambda g: queries.strongest_paths(g, run_id, None, "c", k=2,
                                                       source_layer="a"),
    }
    log = ProtocolLog()
    io_log = logging.getLogger("neo4j.io")
    level = io_log.level
    try:
        with Graph.open(routing_conn) as routed:
            ingest_run(routed, root)
            io_log.addHandler(log)
            io_log.setLevel(logging.DEBUG)
            routed_answers = {name: ask(routed) for name, ask in asks.items()}
            io_log.removeHandler(log)
            for name, ask in asks.items():  # the same answers as through bolt://
                assert len(routed_answers[name]) > 0, name
                assert routed_answers[name].equals(ask(graph)), name
            begins = [line for line in log.lines if " C: BEGIN" in line]
            autocommits = [line for line in log.lines
                           if " C: RUN" in line and not re.search(r"\{\}$", line)]
            assert begins and all("'mode': 'r'" in line for line in begins + autocommits), log.lines
            # the control: a read transaction on this driver refuses a write
            with pytest.raises(FcgraphError, match="failed"):
                routed.read("CREATE (n:RoutingProbe) RETURN n")
            assert graph.read("MATCH (n:RoutingProbe) RETURN count(n) AS n").records[0]["n"] == 0
    finally:
        io_log.removeHandler(log)
        io_log.setLevel(level)
        delete_run(graph, run_id)
