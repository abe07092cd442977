"""Run folders at URLs (issue 17): record, fc and analyze on ``s3://`` write, file by file, what
they write into a local folder; Dask workers with mirrors of their own (other machines) compute
the same edges; a run killed on one machine resumes on another from the parts in the store; a
worker that cannot reach the store stops the run with one line. A real S3 server (S3Proxy on
127.0.0.1, the ``s3_store`` fixture) and real ``dask`` processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fcgraph.fc.run import compute_run
from tests.helpers.cli import FcgraphCli, invoke
from tests.helpers.dask_cluster import env_with_repo
from tests.helpers.tiny import INGEST, TinyRun
from tests.system.test_faults import KILLED, assert_exact_graph, drop_volatile, files, json_content, sha256
from tests.system.test_fc_dask import CHAIN, assert_same_run, make_recording

pytestmark = [pytest.mark.slow]


def upload(store, local: Path, url: str) -> None:
    fs = store.fs()
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        fs.put_file(str(path), f"{url[len('s3://'):]}/{path.relative_to(local).as_posix()}")


def download(store, url: str, local: Path) -> Path:
    """The files under ``url``, copied into the new folder ``local``."""
    fs = store.fs()
    base = url[len("s3://"):]
    local.mkdir(parents=True)
    for key in fs.find(base):
        target = local / key[len(base) + 1:]
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(key, str(target))
    return local


def mirrors_under(folder: Path) -> dict[str, str]:
    """The environment of a process whose mirrors live under ``folder`` (another machine's)."""
    return {"FCGRAPH_MIRROR_DIR": str(folder)}


def assert_same_results(got: Path, ref: Path, written_at: Path) -> None:
    """As tests/system/test_faults.py's, with the path the run was written at (its mirror) read
    as the folder's own."""
    assert files(got) == files(ref)
    for rel in files(ref):
        if rel.endswith(".json"):
            text = (got / rel).read_text().replace(str(written_at), "<RUN>")
            assert drop_volatile(json.loads(text)) == json_content(ref / rel, ref), rel
        elif not rel.endswith(".svg"):
            assert sha256(got / rel) == sha256(ref / rel), rel


def test_the_pipeline_on_s3_writes_what_it_writes_locally(s3_store, tiny_run: TinyRun, tmp_path,
                                                          monkeypatch):
    """record, fc and analyze on an ``s3://`` run folder: the store ends with exactly the files of
    the same commands on a local folder; the commands name the store's files."""
    monkeypatch.setenv("FCGRAPH_MIRROR_DIR", str(tmp_path / "mirrors"))
    url = s3_store.url("pipeline")
    invoke(tiny_run.record_args(url))  # type: ignore[arg-type]
    done = invoke(tiny_run.fc_args(url))  # type: ignore[arg-type]
    assert f"edges: {url}/fc/edges" in done.stdout.replace("\n", "")
    invoke(tiny_run.analyze_args(url))  # type: ignore[arg-type]
    got = download(s3_store, url, tmp_path / "got")
    mirror = next((tmp_path / "mirrors").iterdir()) / "files"
    assert_same_results(got, tiny_run.full, mirror)
    done = invoke(["report", url])
    assert f"wrote {url}/analysis/report.html" in done.stdout.replace("\n", "")
    assert s3_store.fs().exists(f"{url[len('s3://'):]}/analysis/report.html")


def test_fc_on_workers_of_other_machines(s3_store, cluster, tmp_path, monkeypatch):
    """Two workers whose mirrors are their own (as on two other machines) and a client with a
    third: the store gets the in-process run's files; each worker fetched only the spike files
    of the layers it ran, and no part of another unit; a fresh machine then finds every pair
    done."""
    want = make_recording(tmp_path / "inproc", CHAIN)
    compute_run(want, backend="numpy")
    url = s3_store.url("workers")
    upload(s3_store, make_recording(tmp_path / "rec", CHAIN), url)
    for n in range(2):
        cluster.add_worker(**mirrors_under(tmp_path / f"machine{n}"))
    cluster.wait_for_workers(2)
    monkeypatch.setenv("FCGRAPH_MIRROR_DIR", str(tmp_path / "client"))
    b = compute_run(url, backend="numpy", scheduler=cluster.address)
    assert not b.resumed.any() and len(b) == 6
    assert_same_run(download(s3_store, url, tmp_path / "got"), want)
    for n in range(2):
        (mirror,) = (tmp_path / f"machine{n}").iterdir()
        held = files(mirror / "files")
        assert held, "a worker ran no unit"
        assert not [rel for rel in held if rel.startswith("fc/edges")], held
    monkeypatch.setenv("FCGRAPH_MIRROR_DIR", str(tmp_path / "fresh"))
    assert compute_run(url, backend="numpy").resumed.all()


def test_analyze_on_workers_of_other_machines(s3_store, tiny_run: TinyRun, cluster, tmp_path,
                                              monkeypatch):
    """``fcgraph analyze s3://…`` on two workers with mirrors of their own: the store ends with
    the in-process analysis' files."""
    url = s3_store.url("analyze")
    upload(s3_store, tiny_run.fc, url)
    for n in range(2):
        cluster.add_worker(**mirrors_under(tmp_path / f"machine{n}"))
    cluster.wait_for_workers(2)
    monkeypatch.setenv("FCGRAPH_MIRROR_DIR", str(tmp_path / "client"))
    invoke([*tiny_run.analyze_args(url), "--scheduler", cluster.address])  # type: ignore[arg-type]
    (mirror,) = (tmp_path / "client").iterdir()
    assert_same_results(download(s3_store, url, tmp_path / "got"), tiny_run.full, mirror / "files")
    for n in range(2):
        assert list((tmp_path / f"machine{n}").rglob("analysis/.parts/**/*.json")), \
            "a worker ran no unit"


def test_a_run_killed_on_one_machine_resumes_on_another(s3_store, tmp_path):
    """``fcgraph fc s3://…`` killed after its second layer pair: every part it finished is in the
    store already, so the same command on another machine (an empty mirror) recomputes only the
    rest and the store ends with the uninterrupted run's files."""
    want = make_recording(tmp_path / "inproc", CHAIN)
    compute_run(want, backend="numpy")
    url = s3_store.url("killed")
    upload(s3_store, make_recording(tmp_path / "rec", CHAIN), url)
    cli = FcgraphCli()
    args = ("fc", url, "--backend", "numpy", "--no-progress")
    done = cli(*args, fault="fc.pair:3", env=mirrors_under(tmp_path / "first"))
    assert done.returncode == KILLED, done.stderr
    done = cli(*args, env=mirrors_under(tmp_path / "second"))
    assert done.returncode == 0, done.stderr
    assert "2 of 6 layer pairs were finished by an earlier run" in done.stdout
    assert_same_run(download(s3_store, url, tmp_path / "got"), want)


def test_a_worker_that_cannot_reach_the_store(s3_store, cluster, tmp_path, monkeypatch):
    """A worker with other credentials: one line naming it and the file it could not read,
    before any unit runs."""
    url = s3_store.url("denied")
    upload(s3_store, make_recording(tmp_path / "rec"), url)
    cluster.add_worker(AWS_SECRET_ACCESS_KEY="not-the-key", **mirrors_under(tmp_path / "w"))
    cluster.wait_for_workers(1)
    monkeypatch.setenv("FCGRAPH_MIRROR_DIR", str(tmp_path / "client"))
    done = FcgraphCli()("fc", url, "--backend", "numpy", "--no-progress", "--scheduler",
                        cluster.address, env=env_with_repo(**mirrors_under(tmp_path / "client")))
    assert done.returncode == 1
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith("error: Dask worker tcp://127.0.0.1:")
    assert f"cannot read {url}/fc/.parts/plan.json" in line
    assert f"every worker must reach the store of {url}" in line
    assert not (tmp_path / "w").exists() or not list((tmp_path / "w").rglob("*.parquet"))


@pytest.mark.parametrize("url, needle", [("gs://bucket/run", "gcsfs"),
                                         ("nosuch://bucket/run", "not a URL fsspec knows")])
def test_a_store_fsspec_cannot_open(url, needle, tmp_path):
    """A URL whose store has no fsspec implementation installed: one line, nothing created."""
    env = {**os.environ, "FCGRAPH_MIRROR_DIR": str(tmp_path / "mirrors")}
    done = FcgraphCli()("fc", url, "--no-progress", env=env)
    assert done.returncode == 2
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith(f"error: {url}: ") and needle in line
    assert not (tmp_path / "mirrors").exists()


def test_record_on_workers_of_other_machines(s3_store, tiny_run: TinyRun, cluster, tmp_path,
                                             monkeypatch):
    """``fcgraph record --out s3://…`` on two workers with mirrors of their own: each records its
    chunks into the store, the command assembles them, and the store holds the in-process
    recording's files."""
    for n in range(2):
        cluster.add_worker(**mirrors_under(tmp_path / f"machine{n}"))
    cluster.wait_for_workers(2)
    monkeypatch.setenv("FCGRAPH_MIRROR_DIR", str(tmp_path / "client"))
    url = s3_store.url("record")
    invoke([*tiny_run.record_args(url), "--scheduler", cluster.address,  # type: ignore[arg-type]
            "--chunk-images", "8"])
    got = download(s3_store, url, tmp_path / "got")
    (mirror,) = (tmp_path / "client").iterdir()
    assert_same_results(got, tiny_run.rec, mirror / "files")
    for n in range(2):
        assert list((tmp_path / f"machine{n}").rglob("*.bits")), "a worker recorded no chunk"


@pytest.mark.neo4j
def test_ingest_from_s3(s3_store, graph, tiny_run: TinyRun, neo4j_env, reference_dump, empty_graph,
                        tmp_path, monkeypatch):
    """``fcgraph ingest s3://…`` loads the graph a local folder's ingest loads, the run node
    naming the mirror it was read from."""
    url = s3_store.url("ingest")
    upload(s3_store, tiny_run.full, url)
    monkeypatch.setenv("FCGRAPH_MIRROR_DIR", str(tmp_path / "mirrors"))
    invoke(["ingest", url, *INGEST], env=neo4j_env)
    (mirror,) = (tmp_path / "mirrors").iterdir()
    assert_exact_graph(graph, tiny_run, reference_dump, source=mirror / "files")
