"""Shared fixtures. Graph tests talk to the real Neo4j that scripts/test.sh starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import pytest
from typer.testing import CliRunner, Result

from fcgraph import faults
from fcgraph.db.server import free_port  # noqa: F401 (tests import it from here)
from fcgraph.errors import FcgraphError
from fcgraph.graph.connection import Connection, open_driver, resolve_connection
from fcgraph.graph.schema import apply_schema


@pytest.fixture(scope="session")
def neo4j_conn() -> Connection:
    """The test server's connection (from NEO4J_* or the state folder's credentials)."""
    conn = resolve_connection()
    try:
        open_driver(conn).close()
    except FcgraphError as exc:
        if os.environ.get("FCGRAPH_REQUIRE_NEO4J"):
            raise
        pytest.skip(f"no Neo4j for graph tests ({exc}); run them through scripts/test.sh")
    return conn


@pytest.fixture(scope="session")
def driver(neo4j_conn: Connection) -> Iterator[neo4j.Driver]:
    drv = open_driver(neo4j_conn)
    apply_schema(drv, neo4j_conn.database)
    yield drv
    drv.close()



@pytest.fixture
def run_id() -> str:
    """A run_id unique to the test, so tests never see each other's graphs."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def neo4j_env(neo4j_conn: Connection) -> dict[str, str]:
    """The environment variables that point an ``fcgraph`` subprocess at the test server."""
    return {"NEO4J_URI": neo4j_conn.uri, "NEO4J_USER": neo4j_conn.user,
            "NEO4J_PASSWORD": neo4j_conn.password or "", "NEO4J_DATABASE": neo4j_conn.database}


def graph_dump(driver: neo4j.Driver, run_id: str) -> dict[str, list]:
    """Every node and live edge of a run, as sorted plain values (gen excluded)."""
    nodes = driver.execute_query(
        "MATCH (n) WHERE n.run_id = $run_id AND NOT n:IngestBatch "
        "RETURN labels(n) AS labels, properties(n) AS props", run_id=run_id).records
    node_rows = sorted(json.dumps([r["labels"], {k: v for k, v in r["props"].items()
                                                 if k not in ("gen", "max_gen", "created_at",
                                                              "loaded_at")}],
                                  sort_keys=True, default=str) for r in nodes)
    edges = driver.execute_query(
        "MATCH (a:Neuron {run_id: $run_id})-[r:FC]->(b) "
        "RETURN a.uid AS a, b.uid AS b, properties(r) AS props", run_id=run_id).records
    edge_rows = sorted(json.dumps([r["a"], r["b"], {k: v for k, v in r["props"].items()
                                                    if k != "gen"}], sort_keys=True)
                       for r in edges)
    structure = driver.execute_query(
        "MATCH (x {run_id: $run_id})-[r:HAS_LAYER|FEEDS|HAS_CONDITION]->(y) "
        "RETURN x.uid AS x, type(r) AS t, y.uid AS y", run_id=run_id).records
    return {"nodes": node_rows, "edges": edge_rows,
            "structure": sorted((str(r["x"]), r["t"], r["y"]) for r in structure)}


class FcgraphCli:
    """The real ``fcgraph`` command of the tree under test, in a subprocess: PYTHONPATH and the rest
    of the environment inherited, plus ``env``; killed at ``fault`` when given (fcgraph/faults.py)."""

    @staticmethod
    def _popen_args(args: tuple[object, ...], fault: str | None,
                    env: dict[str, str] | None) -> dict[str, Any]:
        environ = {k: v for k, v in os.environ.items() if k != faults.ENV} | (env or {})
        if fault:
            environ[faults.ENV] = fault
        return {"args": [sys.executable, "-m", "fcgraph", *map(str, args)], "env": environ,
                "text": True}

    def __call__(self, *args: object, fault: str | None = None, env: dict[str, str] | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess:
        """Run to the end; the completed process (text output)."""
        return subprocess.run(**self._popen_args(args, fault, env), capture_output=True,
                              timeout=timeout)

    def start(self, *args: object, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen:
        """Start, and return the running process (``popen``: e.g. stdout, stderr)."""
        return subprocess.Popen(**self._popen_args(args, None, env), **popen)


@pytest.fixture(scope="session")
def fcgraph_cli() -> FcgraphCli:
    return FcgraphCli()


@dataclass(frozen=True)
class TinyRun:
    """A reference pipeline of the ``tiny`` model (T = 4, 32 digits, clean and uniform:0.2), made
    by the real commands in-process: ``rec`` (record), ``fc`` (record + fc) and ``full`` (record +
    fc + analyze) are finished folders that tests copy, never write; the ``*_args`` are the
    commands that made them (a test reruns the same command on its own folder)."""

    checkpoint: Path
    run_id: str
    rec: Path
    fc: Path
    full: Path

    def record_args(self, out: Path) -> list[str]:
        return ["record", str(self.checkpoint), "--out", str(out), "-n", "32", "-c", "clean",
                "-c", "uniform:0.2", "--batch-size", "8", "--seed", "3", "--run-id", self.run_id,
                "--flush-bytes", "1", "--no-progress"]

    @staticmethod
    def fc_args(folder: Path) -> list[str]:
        return ["fc", str(folder), "--backend", "numpy", "--no-progress"]

    @staticmethod
    def analyze_args(folder: Path) -> list[str]:
        return ["analyze", str(folder), "--n-boot", "5", "--max-neurons", "8", "--folds", "2",
                "--no-report", "--no-progress"]


def invoke(args: list[str], env: dict[str, str] | None = None, exit_code: int = 0) -> Result:
    """Run an ``fcgraph`` command in this process and check its exit code (and that it did not
    crash); returns the result (``stdout``, ``stderr``)."""
    from fcgraph.cli import app

    result = CliRunner().invoke(app, args, env=env)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert result.exit_code == exit_code and not crashed, (result.output, result.exception)
    return result


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """The finished reference folders of :class:`TinyRun` (built once per session)."""
    import shutil

    from fcgraph.models import TrainConfig, train

    base = tmp_path_factory.mktemp("tiny-run")
    train(TrainConfig(architecture="tiny", T=4, lr=0.02, batch_size=16, epochs=1,
                      train_limit=128, test_limit=16), base / "ck")
    run = TinyRun(base / "ck", f"tiny-{uuid.uuid4().hex[:10]}", base / "rec", base / "fc",
                  base / "full")
    invoke(run.record_args(run.rec))
    shutil.copytree(run.rec, run.fc)
    invoke(run.fc_args(run.fc))
    shutil.copytree(run.fc, run.full)
    invoke(run.analyze_args(run.full))
    return run
