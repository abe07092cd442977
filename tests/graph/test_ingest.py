"""Ingest guarantees against the real Neo4j: counts, idempotence, atomic replace, resume, validation."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import neo4j
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fcgraph.errors import FcgraphError
from fcgraph.graph.connection import Graph
from fcgraph.graph.ingest import delete_run, ingest_run, list_runs
from fcgraph.synthetic import make_synthetic_run
from tests.helpers.graph import all_edge_count, graph_dump, live_edge_count, table_rows

SMALL = (("a", (2, 4, 4)), ("b", (4, 2, 2)), ("c", (12,)), ("d", (6,)))


@pytest.fixture
def small_run(tmp_path: Path, run_id: str, driver: neo4j.Driver, graph: Graph):
    root = tmp_path / "run"
    manifest = make_synthetic_run(root, run_id, layers=SMALL, conditions=("clean", "uniform:0.2"),
                                  fan_in=4)
    yield root, manifest
    delete_run(graph, run_id)


def test_ingest_counts_match_files(driver, graph, small_run, run_id):
    root, manifest = small_run
    result = ingest_run(graph, root, batch_size=7)
    assert list(result.action) == ["loaded", "loaded"]
    for name, path in manifest.edge_files(root).items():
        assert live_edge_count(graph, run_id, name) == table_rows(path)
    n_neurons = sum(la.n_neurons for la in manifest.layers)
    got = driver.execute_query("MATCH (n:Neuron {run_id: $r}) RETURN count(n) AS n",
                               r=run_id).records[0]["n"]
    assert got == n_neurons
    layers = driver.execute_query(
        "MATCH (:Run {run_id: $r})-[:HAS_LAYER]->(l:Layer) RETURN l.name AS name ORDER BY l.order",
        r=run_id).records
    assert [r["name"] for r in layers] == ["a", "b", "c", "d"]
    feeds = driver.execute_query(
        "MATCH (x:Layer {run_id: $r})-[:FEEDS]->(y:Layer) RETURN x.name + '>' + y.name AS f",
        r=run_id).records
    assert sorted(r["f"] for r in feeds) == ["a>b", "b>c", "c>d"]
    # one edge checked property by property against its row
    row = pq.read_table(manifest.edge_files(root)["clean"]).slice(5, 1).to_pylist()[0]
    rec = driver.execute_query(
        "MATCH (a:Neuron {uid: $a})-[r:FC {condition: 'clean'}]->(b:Neuron {uid: $b}) "
        "RETURN properties(r) AS p", a=f"{run_id}/{row['pre_layer']}/{row['pre_idx']}",
        b=f"{run_id}/{row['post_layer']}/{row['post_idx']}").records
    assert len(rec) == 1
    props = rec[0]["p"]
    for key in ("value", "z", "cofire", "null_mean", "null_sd"):
        assert props[key] == row[key]
    assert "measure" not in props and "run_id" not in props  # held once, by the run and the nodes
    assert driver.execute_query("MATCH (r:Run {run_id: $r}) RETURN r.fc_measure AS m",
                                r=run_id).records[0]["m"] == "sttc"
    # a conv neuron's position is channel-major
    n = driver.execute_query("MATCH (n:Neuron {uid: $u}) RETURN n {.channel, .y, .x} AS n",
                             u=f"{run_id}/a/21").records[0]["n"]
    assert n == {"channel": 1, "y": 1, "x": 1}
    # each neuron also carries its layer's order as a label (Browser colours by label)
    labels = driver.execute_query(
        "MATCH (n:Neuron {run_id: $r}) RETURN n.layer AS layer, collect(DISTINCT labels(n)) AS labels",
        r=run_id).records
    assert {r["layer"]: r["labels"] for r in labels} == {
        name: [["Neuron", f"L{order}"]] for order, name in enumerate(["a", "b", "c", "d"])}
    assert run_id in set(list_runs(graph).run_id)


def test_ingest_twice_leaves_the_same_graph(graph, small_run, run_id):
    root, _ = small_run
    ingest_run(graph, root, batch_size=10)
    before = graph_dump(graph, run_id)
    again = ingest_run(graph, root, batch_size=3)
    assert list(again.action) == ["unchanged", "unchanged"]
    assert graph_dump(graph, run_id) == before


def test_changed_edges_need_replace_and_replace_is_atomic(graph, small_run, run_id, tmp_path):
    root, manifest = small_run
    ingest_run(graph, root, conditions=["clean"])
    old = live_edge_count(graph, run_id, "clean")
    clean = manifest.edge_files(root)["clean"]
    table = pq.read_table(clean)
    keep = pc.less(table.column("z"), 6.0)  # a smaller edge set
    smaller = table.filter(keep)
    new = smaller.num_rows
    assert 0 < new < old
    pq.write_table(smaller, clean)
    with pytest.raises(FcgraphError, match="--replace"):
        ingest_run(graph, root, conditions=["clean"])
    assert live_edge_count(graph, run_id, "clean") == old

    seen: set[int] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.add(live_edge_count(graph, run_id, "clean"))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = ingest_run(graph, root, conditions=["clean"], replace=True, batch_size=5)
    finally:
        stop.set()
        thread.join()
    assert list(result.action) == ["replaced"]
    assert seen <= {old, new}, f"a reader saw a half-replaced condition: {sorted(seen)}"
    assert live_edge_count(graph, run_id, "clean") == new
    assert all_edge_count(graph, run_id) == new  # the old generation is gone


def test_sigkill_mid_ingest_then_rerun_gives_exact_counts(driver, graph, neo4j_conn, tmp_path, run_id):
    root = tmp_path / "big"
    layers = (("a", (16, 8, 8)), ("b", (32, 4, 4)), ("c", (256,)))
    manifest = make_synthetic_run(root, run_id, layers=layers, conditions=("clean",), fan_in=40)
    expected = table_rows(manifest.edge_files(root)["clean"])
    env = {**os.environ, "NEO4J_URI": neo4j_conn.uri, "NEO4J_USER": neo4j_conn.user,
           "NEO4J_PASSWORD": neo4j_conn.password or "", "NEO4J_DATABASE": neo4j_conn.database}
    cmd = [sys.executable, "-m", "fcgraph.cli", "ingest", str(root), "--batch-size", "500",
           "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = driver.execute_query(
                "MATCH (b:IngestBatch) WHERE b.load STARTS WITH $p RETURN count(b) AS n",
                p=f"{run_id}/clean@").records[0]["n"]
            if done >= 3:
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = all_edge_count(graph, run_id)
        assert 0 < partial < expected  # killed in the middle
        assert partial % 500 == 0  # only whole batches were committed
        assert live_edge_count(graph, run_id, "clean") == 0  # and none of them is visible
        result = ingest_run(graph, root, batch_size=999)  # resumes with the recorded batch size
        assert list(result.action) == ["resumed"]
        assert live_edge_count(graph, run_id, "clean") == expected
        assert all_edge_count(graph, run_id) == expected
        marks = driver.execute_query("MATCH (b:IngestBatch) WHERE b.load STARTS WITH $p "
                                     "RETURN count(b) AS n", p=f"{run_id}/").records[0]["n"]
        assert marks == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        delete_run(graph, run_id)


def test_top_k_and_min_z_select_the_strongest(driver, graph, small_run, run_id):
    root, manifest = small_run
    ingest_run(graph, root, conditions=["clean"], top_k=2, min_z=4.0)
    table = pq.read_table(manifest.edge_files(root)["clean"]).to_pandas()
    table = table[table.z >= 4.0]
    expected = table.sort_values("z", ascending=False).groupby(["post_layer", "post_idx"]).head(2)
    assert live_edge_count(graph, run_id, "clean") == len(expected)
    got = driver.execute_query(
        "MATCH (a:Neuron {run_id: $r})-[e:FC {condition: 'clean'}]->(b) RETURN min(e.z) AS z, "
        "max(size([(x)-[f:FC {condition: 'clean'}]->(b) | f])) AS fan", r=run_id).records[0]
    assert got["z"] >= 4.0 and got["fan"] <= 2


# --- bad input: refused with one line naming file and column, before anything is written ---

def _rewrite(path: Path, fn) -> None:
    pq.write_table(fn(pq.read_table(path)), path)


def _set_col(table: pa.Table, name: str, values) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


BAD_EDGE_CASES = {
    "missing column": (lambda t: t.drop_columns(["null_sd"]), "missing column 'null_sd'"),
    "extra column": (lambda t: t.append_column("weight", pa.array(np.ones(t.num_rows))),
                     "unexpected column 'weight'"),
    "wrong dtype": (lambda t: _set_col(t, "cofire", t.column("cofire").cast(pa.string())),
                    "column 'cofire' has type string"),
    "NaN statistic": (lambda t: _set_col(t, "z", pa.array(
        np.where(np.arange(t.num_rows) == 3, np.nan, t.column("z").to_numpy()))),
                      "column 'z' has NaN or infinite"),
    "infinite statistic": (lambda t: _set_col(t, "null_mean", pa.array(
        np.where(np.arange(t.num_rows) == 0, np.inf, t.column("null_mean").to_numpy()))),
                           "column 'null_mean' has NaN or infinite"),
    "index out of range": (lambda t: _set_col(t, "post_idx", pa.array(
        np.where(np.arange(t.num_rows) == 1, 10_000, t.column("post_idx").to_numpy()))),
                           "column 'post_idx' has 10000, out of range"),
    "layers not consecutive": (lambda t: _set_col(t, "post_layer", pa.array(
        np.where(np.arange(t.num_rows) == 0, "c", t.column("post_layer").to_numpy(
            zero_copy_only=False)))), "are not consecutive"),
    "unknown run": (lambda t: _set_col(t, "run_id", pa.array(["other"] * t.num_rows)),
                    "unknown run 'other'"),
}


@pytest.mark.parametrize("case", sorted(BAD_EDGE_CASES))
def test_bad_edge_tables_are_refused_before_writing(driver, graph, small_run, run_id, case):
    root, manifest = small_run
    fn, message = BAD_EDGE_CASES[case]
    path = manifest.edge_files(root)["uniform:0.2"]
    _rewrite(path, fn)
    with pytest.raises(FcgraphError) as err:
        ingest_run(graph, root)
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text
    assert driver.execute_query("MATCH (n {run_id: $r}) RETURN count(n) AS n",
                                r=run_id).records[0]["n"] == 0


def test_bad_manifest_and_neuron_table(driver, graph, small_run, run_id, tmp_path):
    root, manifest = small_run
    with pytest.raises(FcgraphError, match="no manifest"):
        ingest_run(graph, tmp_path / "nowhere")
    neurons = root / "fc" / "neurons.parquet"
    _rewrite(neurons, lambda t: _set_col(t, "rate", pa.array(np.full(t.num_rows, np.nan))))
    with pytest.raises(FcgraphError, match=r"neurons.parquet: column 'rate'"):
        ingest_run(graph, root)
    with pytest.raises(FcgraphError, match="no edge table for condition 'fgsm:0.1'"):
        ingest_run(graph, root, conditions=["fgsm:0.1"])
    broken = root / "manifest.json"
    broken.write_text("{not json")
    with pytest.raises(FcgraphError, match="not valid JSON"):
        ingest_run(graph, root)
    assert driver.execute_query("MATCH (n {run_id: $r}) RETURN count(n) AS n",
                                r=run_id).records[0]["n"] == 0


def test_truncated_parquet_is_refused(graph, small_run, run_id):
    root, manifest = small_run
    path = manifest.edge_files(root)["clean"]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FcgraphError, match="not a readable Parquet file"):
        ingest_run(graph, root)


def test_copy_of_run_under_new_id_is_independent(graph, small_run, run_id, tmp_path):
    root, _ = small_run
    ingest_run(graph, root)
    other = tmp_path / "other"
    shutil.copytree(root, other)
    other_id = run_id + "b"
    make_synthetic_run(other, other_id, layers=SMALL, conditions=("clean", "uniform:0.2"), fan_in=4)
    try:
        ingest_run(graph, other)
        delete_run(graph, other_id)
        assert live_edge_count(graph, run_id, "clean") == table_rows(root / "fc/edges/clean.parquet")
    finally:
        delete_run(graph, other_id)
